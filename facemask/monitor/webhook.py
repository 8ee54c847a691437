"""The optional outbound webhook: every event POSTed as JSON to a URL from a thread of its own, retried with
back-off, so a slow or absent receiver never holds up a camera."""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request

from facemask.monitor.config import WebhookConfig, redact_source
from facemask.video import retry_delays

LOG = logging.getLogger("facemask.monitor")


class Webhook:
    """Posts queued payloads to `config.url`; `send` never blocks (a full queue drops the payload, logged)."""

    def __init__(self, config: WebhookConfig, stop: threading.Event) -> None:
        self.config = config
        self.stop = stop
        self.shown_url = redact_source(config.url or "")
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[dict] = queue.Queue(maxsize=config.queue)
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)

    def start(self) -> Webhook:
        self._thread.start()
        return self

    def send(self, payload: dict) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.dropped += 1
            LOG.warning("webhook %s: queue full, event %s dropped", self.shown_url, payload.get("id"))

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def _post(self, payload: dict) -> None:
        assert self.config.url is not None, "no webhook without a URL"
        request = urllib.request.Request(
            self.config.url,
            data=json.dumps(payload).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "facemask-serve"},
        )
        with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
            response.read()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            delays = retry_delays(self.config.retries)
            while True:
                try:
                    self._post(payload)
                    self.delivered += 1
                    break
                except (urllib.error.URLError, OSError, ValueError) as problem:
                    reason = getattr(problem, "reason", None) or getattr(problem, "code", None) or problem
                    delay = next(delays, None)
                    if delay is None or self.stop.is_set():
                        self.failed += 1
                        LOG.warning(
                            "webhook %s: event %s not delivered (%s)", self.shown_url, payload.get("id"), reason
                        )
                        break
                    LOG.info("webhook %s: %s, retrying in %g s", self.shown_url, reason, delay)
                    if self.stop.wait(delay):
                        self.failed += 1
                        break
