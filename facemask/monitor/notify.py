"""Notifications without a flood: which events go on to the webhook and MQTT, per camera, by a minimum number of
flagged people in a window and a cooldown after each notification. Every event is stored and counted either way."""

from __future__ import annotations

import threading
from collections import deque

from facemask.monitor.config import NotifyConfig


class Throttle:
    """Decides, per camera, whether an event becomes a notification (thread-safe)."""

    def __init__(self, config: NotifyConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._last_sent: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def admit(self, camera: str, when: float) -> dict | None:
        """The fields to add to the notification when the event at `when` (epoch seconds) on `camera` is to be
        sent (`flagged_recent`: flagged people seen in the window; `held_back`: events not sent since the last
        notification), or None when it is held back."""
        config = self.config
        with self._lock:
            recent = self._recent.setdefault(camera, deque())
            recent.append(when)
            while recent and recent[0] <= when - config.window:
                recent.popleft()
            last = self._last_sent.get(camera)
            if len(recent) < config.min_flagged or (last is not None and when - last < config.cooldown):
                self._held[camera] = self._held.get(camera, 0) + 1
                return None
            fields = {"flagged_recent": len(recent), "held_back": self._held.pop(camera, 0)}
            self._last_sent[camera] = when
            recent.clear()
            return fields
