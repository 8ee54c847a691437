"""Events: a person without a mask (or wearing it incorrectly), one per tracked face, raised once the decision on
their looks says so and is settled (facemask.video.decision), and the JSON-lines log they are appended to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from facemask.errors import FacemaskError
from facemask.geometry import Box
from facemask.outputs import os_error


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Event:
    """A person called not compliant: one per tracked face, however long it stays. `label`: the decision;
    `probability`: the mean probability of that label over the looks it rests on; `not_compliant`: their mean
    probability of not being compliant (1 - p(with_mask)); `looks`: how many times the face had been classified
    when the event fired; `box`: the face at `frame`."""

    time: str
    frame: int
    track: int
    label: str
    box: Box
    probability: float
    not_compliant: float
    looks: int

    def to_json(self) -> dict:
        return {
            "time": self.time,
            "frame": self.frame,
            "track": self.track,
            "label": self.label,
            "box": self.box.as_list(),
            "probability": round(self.probability, 4),
            "not_compliant": round(self.not_compliant, 4),
            "looks": self.looks,
        }


class EventLog:
    """Appends events to a JSON-lines file, one line each, flushed at once so `tail -f` sees them."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_dir():
            raise FacemaskError(f"events file is a folder: {path}")
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            problem = "is a file, not a folder" if parent.exists() else "does not exist"
            raise FacemaskError(f"events folder {problem}: {parent}")
        self.path = path
        try:
            self._handle: TextIO = path.open("a", encoding="utf-8")
        except OSError as error:
            raise os_error(error, path, "cannot open the events file") from None

    def write(self, event: Event) -> None:
        try:
            self._handle.write(json.dumps(event.to_json()) + "\n")
            self._handle.flush()
        except OSError as error:
            raise os_error(error, self.path) from None

    def close(self) -> None:
        self._handle.close()
