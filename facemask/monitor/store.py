"""The event store: a SQLite database (WAL, each event committed when it happens) with JPEG snapshots of the face
and the frame beside it, and per-camera, per-minute counts of the people seen, counted once per tracked face.

Layout of the data folder: `events.sqlite3` (with its `-wal`/`-shm` files) and `snapshots/<id>-face.jpg`,
`snapshots/<id>-frame.jpg`. Snapshot files are named by the event's id only, so no request ever names a path.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from facemask.errors import FacemaskError
from facemask.geometry import Box
from facemask.metadata import MASKED
from facemask.monitor.config import StoreConfig
from facemask.outputs import os_error, publish, recover, temporary_path

SCHEMA_VERSION = 1
SNAPSHOT_KINDS = ("face", "frame")
LARGEST_ID = 2**63 - 1  # SQLite's largest integer: an id beyond it names no event
DATABASE_NAME = "events.sqlite3"
PRUNE_EVERY_SECONDS = 600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera TEXT NOT NULL,
    time REAL NOT NULL,
    track INTEGER NOT NULL,
    label TEXT NOT NULL,
    probability REAL NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL,
    frame INTEGER NOT NULL,
    recorded REAL NOT NULL,
    face_bytes INTEGER NOT NULL DEFAULT 0,
    frame_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time);
CREATE INDEX IF NOT EXISTS events_by_camera ON events (camera, time);
CREATE TABLE IF NOT EXISTS counts (
    camera TEXT NOT NULL,
    minute INTEGER NOT NULL,
    label TEXT NOT NULL,
    people INTEGER NOT NULL,
    PRIMARY KEY (camera, minute, label)
);
"""


def iso(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class StoredEvent:
    """One event row: a face flagged (without a mask, or worn incorrectly) on a camera."""

    id: int
    camera: str
    time: float
    track: int
    label: str
    probability: float
    box: Box
    frame: int
    face_snapshot: bool
    frame_snapshot: bool
    recorded: float = 0.0  # when the row was committed (epoch seconds)

    def to_json(self, prefix: str = "/api/v1") -> dict:
        snapshots = {
            kind: f"{prefix}/snapshots/{self.id}/{kind}.jpg"
            for kind, kept in (("face", self.face_snapshot), ("frame", self.frame_snapshot))
            if kept
        }
        return {
            "id": self.id,
            "camera": self.camera,
            "time": iso(self.time),
            "track": self.track,
            "label": self.label,
            "probability": round(self.probability, 4),
            "box": self.box.as_list(),
            "frame": self.frame,
            "snapshots": snapshots,
        }


@dataclass(frozen=True)
class CountRow:
    """People seen on one camera in one period (minute, hour, ...), by label."""

    camera: str
    start: float
    counts: dict[str, int]

    @property
    def compliance(self) -> float | None:
        """The share of people seen masked (None when nobody was seen)."""
        total = sum(self.counts.values())
        return self.counts.get(MASKED, 0) / total if total else None

    def to_json(self) -> dict:
        compliance = self.compliance
        return {
            "camera": self.camera,
            "start": iso(self.start),
            "counts": dict(sorted(self.counts.items())),
            "people": sum(self.counts.values()),
            "compliance": None if compliance is None else round(compliance, 4),
        }


@dataclass(frozen=True)
class DayRow:
    """One camera's day: the people seen, how many masked and flagged (anything else), the compliance rate."""

    camera: str
    day: str  # YYYY-MM-DD in the time zone asked for
    people: int
    masked: int

    @property
    def flagged(self) -> int:
        return self.people - self.masked

    @property
    def compliance(self) -> float | None:
        return self.masked / self.people if self.people else None

    def to_json(self) -> dict:
        compliance = self.compliance
        return {
            "camera": self.camera,
            "day": self.day,
            "people": self.people,
            "masked": self.masked,
            "flagged": self.flagged,
            "compliance": None if compliance is None else round(compliance, 4),
        }


def _where(filters: tuple[tuple[str, object], ...]) -> tuple[str, list]:
    """A WHERE clause of the (condition, value) pairs whose value is given, joined by AND (empty: none), and
    their values in order."""
    given = [(condition, value) for condition, value in filters if value is not None]
    where = f"WHERE {' AND '.join(condition for condition, _ in given)}" if given else ""
    return where, [value for _, value in given]


class EventStore:
    """The SQLite event store in `folder` (created if needed). Safe to use from many threads (one connection
    behind a lock; events are rare and reads small)."""

    def __init__(self, folder: str | Path, retention: StoreConfig = StoreConfig()) -> None:
        self.folder = Path(folder)
        self.snapshots = self.folder / "snapshots"
        self.retention = retention
        try:
            self.snapshots.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise FacemaskError(f"cannot create data folder {self.folder}: {error.strerror or error}") from None
        recover(self.snapshots)
        self.path = self.folder / DATABASE_NAME
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            version = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if version is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(version[0]) > SCHEMA_VERSION:
                raise FacemaskError(f"event store was written by a newer facemask (schema {version[0]}): {self.path}")
        except sqlite3.DatabaseError as error:
            raise FacemaskError(f"cannot open event store ({error}): {self.path}") from None
        self._snapshot_bytes = self._db.execute(
            "SELECT COALESCE(SUM(face_bytes + frame_bytes), 0) FROM events"
        ).fetchone()[0]
        self._last_prune = 0.0
        self._remove_orphans()
        self.prune()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def snapshot_path(self, event_id: int, kind: str) -> Path:
        """Where an event's snapshot of `kind` (face or frame) is kept; built from the id alone."""
        if kind not in SNAPSHOT_KINDS:
            raise ValueError(kind)
        return self.snapshots / f"{int(event_id):010d}-{kind}.jpg"

    def _remove_orphans(self) -> None:
        """Snapshot files of an event whose row was never committed (the process was killed while writing it)."""
        last = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        for path in self.snapshots.glob("*.jpg"):
            try:
                number = int(path.name.split("-", 1)[0])
            except ValueError:
                continue
            if number > last:
                path.unlink(missing_ok=True)

    def add_event(
        self,
        camera: str,
        when: float,
        track: int,
        label: str,
        probability: float,
        box: Box,
        frame: int,
        snapshots: dict[str, bytes],
    ) -> int:
        """Store one event with its JPEG snapshots (`{"face": ..., "frame": ...}`) and count its person, in one
        transaction committed before returning; returns the event's id."""
        event_id: int | None = None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT INTO events (camera, time, track, label, probability, x, y, w, h, frame, recorded) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (camera, when, track, label, float(probability), box.x, box.y, box.w, box.h, frame, time.time()),
                )
                new_id = cursor.lastrowid
                assert new_id is not None  # set by the INSERT
                event_id = new_id
                sizes = {}
                for kind in SNAPSHOT_KINDS:
                    data = snapshots.get(kind)
                    if data:
                        self._write_snapshot(self.snapshot_path(new_id, kind), data)
                    sizes[kind] = len(data) if data else 0
                self._db.execute(
                    "UPDATE events SET face_bytes=?, frame_bytes=?, recorded=? WHERE id=?",
                    (sizes["face"], sizes["frame"], time.time(), new_id),
                )
                self._count(camera, when, label)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                if event_id is not None:
                    for kind in SNAPSHOT_KINDS:
                        self.snapshot_path(event_id, kind).unlink(missing_ok=True)
                raise
            self._snapshot_bytes += sum(sizes.values())
        self._maybe_prune()
        return new_id

    @staticmethod
    def _write_snapshot(path: Path, data: bytes) -> None:
        """Write a snapshot through a temporary file beside it (never a half-written JPEG under its name)."""
        temporary = temporary_path(path)
        try:
            temporary.write_bytes(data)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise os_error(error, path) from None
        publish(temporary, path)

    def count_person(self, camera: str, when: float, label: str) -> None:
        """Count one person (a tracked face, once) seen with `label` at `when`, outside an event."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._count(camera, when, label)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _count(self, camera: str, when: float, label: str) -> None:
        self._db.execute(
            "INSERT INTO counts VALUES (?, ?, ?, 1) ON CONFLICT (camera, minute, label) "
            "DO UPDATE SET people = people + 1",
            (camera, int(when // 60) * 60, label),
        )

    def events(
        self,
        camera: str | None = None,
        label: str | None = None,
        since: float | None = None,
        until: float | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[StoredEvent]:
        """Events, newest first, filtered; `before_id` pages on (ids below it)."""
        where, values = _where(
            (
                ("camera = ?", camera),
                ("label = ?", label),
                ("time >= ?", since),
                ("time < ?", until),
                ("id < ?", before_id),
            )
        )
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, camera, time, track, label, probability, x, y, w, h, frame, face_bytes, frame_bytes, "
                f"recorded FROM events {where} ORDER BY id DESC LIMIT ?",
                (*values, int(limit)),
            ).fetchall()
        return [
            StoredEvent(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                Box(*row[6:10]),
                row[10],
                row[11] > 0,
                row[12] > 0,
                row[13],
            )
            for row in rows
        ]

    def event(self, event_id: int) -> StoredEvent | None:
        if not 0 < event_id < LARGEST_ID:
            return None
        found = self.events(before_id=int(event_id) + 1, limit=1)
        return found[0] if found and found[0].id == event_id else None

    def counts(
        self, period: int, camera: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[CountRow]:
        """People per camera per `period` seconds (60: minutes, 3600: hours; 0: one row per camera for the whole
        range), oldest first, by label."""
        where, values = _where((("camera = ?", camera), ("minute >= ?", since), ("minute < ?", until)))
        bucket = f"(minute / {int(period)}) * {int(period)}" if period else "MIN(minute)"
        group = f"camera, (minute / {int(period)}), label" if period else "camera, label"
        with self._lock:
            rows = self._db.execute(
                f"SELECT camera, {bucket}, label, SUM(people) FROM counts {where} GROUP BY {group}", values
            ).fetchall()
        merged: dict[tuple[str, float], dict[str, int]] = {}
        first: dict[str, float] = {}  # the whole range (period 0) starts at `since`, else at its first minute
        for camera_name, start, label, people in rows:
            first[camera_name] = min(first.get(camera_name, float(start)), float(start))
            merged.setdefault((camera_name, float(start) if period else 0.0), {})[label] = int(people)
        if not period:
            merged = {
                (name, float(since) if since is not None else first[name]): counts
                for (name, _), counts in merged.items()
            }
        return [
            CountRow(camera_name, start, counts)
            for (camera_name, start), counts in sorted(merged.items(), key=lambda item: (item[0][1], item[0][0]))
        ]

    def daily(
        self, utc_offset: int = 0, camera: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[DayRow]:
        """People per camera per day, days starting at midnight `utc_offset` seconds east of UTC; `since` and
        `until` (epoch seconds) bound the minutes counted. Oldest day first."""
        where, filters = _where((("camera = ?", camera), ("minute >= ?", since), ("minute < ?", until)))
        values: list[int | float | str] = [int(utc_offset), *filters]
        with self._lock:
            rows = self._db.execute(
                f"SELECT camera, (minute + ?) / 86400 AS day, SUM(people), "
                f"SUM(CASE WHEN label = '{MASKED}' THEN people ELSE 0 END) FROM counts {where} "
                f"GROUP BY camera, day ORDER BY day, camera",
                values,
            ).fetchall()
        return [
            DayRow(name, datetime.fromtimestamp(day * 86400, timezone.utc).date().isoformat(), int(people), int(masked))
            for name, day, people, masked in rows
        ]

    def erase(self, camera: str | None = None, since: float | None = None, until: float | None = None) -> dict:
        """Delete the events (with their snapshots) and the counts of `camera` (None: every camera) between `since`
        and `until` (epoch seconds; None: unbounded); counts go by their minute. Returns how many were removed."""
        where, values = _where((("camera = ?", camera), ("time >= ?", since), ("time < ?", until)))
        count_where = where.replace("time", "minute")
        count_values = [value if isinstance(value, str) else int(value // 60) * 60 for value in values]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(f"SELECT id, face_bytes, frame_bytes FROM events {where}", values).fetchall()
                self._drop_snapshots([row for row in rows if row[1] + row[2] > 0])
                self._db.execute(f"DELETE FROM events {where}", values)
                people = self._db.execute(
                    f"SELECT COALESCE(SUM(people), 0) FROM counts {count_where}", count_values
                ).fetchone()[0]
                self._db.execute(f"DELETE FROM counts {count_where}", count_values)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return {"events": len(rows), "people": int(people)}

    @property
    def snapshot_bytes(self) -> int:
        return self._snapshot_bytes

    @property
    def database_bytes(self) -> int:
        """The database's size on disk, its WAL file included."""
        return sum(
            path.stat().st_size for path in (self.path, self.path.with_name(DATABASE_NAME + "-wal")) if path.exists()
        )

    def _maybe_prune(self) -> None:
        if (
            time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS
            or self._snapshot_bytes > self.retention.snapshot_megabytes * 1e6
        ):
            self.prune()

    def _drop_snapshots(self, rows: list[tuple[int, int, int]]) -> None:
        """Remove the snapshot files of these (id, face_bytes, frame_bytes) rows and mark them gone."""
        for event_id, face, frame in rows:
            for kind in SNAPSHOT_KINDS:
                self.snapshot_path(event_id, kind).unlink(missing_ok=True)
            self._snapshot_bytes -= face + frame
        self._db.executemany(
            "UPDATE events SET face_bytes = 0, frame_bytes = 0 WHERE id = ?", [(row[0],) for row in rows]
        )

    def prune(self, now: float | None = None) -> None:
        """Apply the retention limits: snapshots older than `snapshot_days`, then the oldest snapshots until they
        take at most `snapshot_megabytes` (to 90 % of it, so pruning is not run on every event), events and counts
        older than `event_days`."""
        now = time.time() if now is None else now
        retention = self.retention
        with self._lock:
            self._last_prune = time.monotonic()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                old = self._db.execute(
                    "SELECT id, face_bytes, frame_bytes FROM events WHERE time < ? AND face_bytes + frame_bytes > 0",
                    (now - retention.snapshot_days * 86400,),
                ).fetchall()
                self._drop_snapshots(old)
                limit = retention.snapshot_megabytes * 1e6
                if self._snapshot_bytes > limit:
                    excess, oldest = self._snapshot_bytes - 0.9 * limit, []
                    for row in self._db.execute(
                        "SELECT id, face_bytes, frame_bytes FROM events WHERE face_bytes + frame_bytes > 0 ORDER BY id"
                    ):
                        oldest.append(row)
                        excess -= row[1] + row[2]
                        if excess <= 0:
                            break
                    self._drop_snapshots(oldest)
                cutoff = now - retention.event_days * 86400
                expired = self._db.execute(
                    "SELECT id, face_bytes, frame_bytes FROM events WHERE time < ? AND face_bytes + frame_bytes > 0",
                    (cutoff,),
                ).fetchall()
                self._drop_snapshots(expired)
                self._db.execute("DELETE FROM events WHERE time < ?", (cutoff,))
                self._db.execute("DELETE FROM counts WHERE minute < ?", (int(cutoff // 60) * 60,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
