"""The live loop: frames through the pipeline with tracking, debounced events, recording, overlay and alerts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from facemask.pipeline import FaceResult, MaskPipeline
from facemask.video.alerts import Alerts
from facemask.video.decision import DecisionSettings
from facemask.video.events import Event, EventLog, now_iso
from facemask.video.overlay import RateMeter, draw_overlay
from facemask.video.recording import Recorder
from facemask.video.sources import FrameSource
from facemask.video.tracking import FaceTracker, Track


@dataclass
class MonitorSettings:
    """How the monitor runs: classification cadence, tracking, the decision per person, outputs and what it
    shows."""

    classify_every: int = 1
    track_patience: int = 10
    track_iou: float = 0.3
    decision: DecisionSettings = field(default_factory=DecisionSettings)
    display: bool = False
    window: str = "facemask"
    alerts: Alerts = field(default_factory=Alerts)


@dataclass
class MonitorSummary:
    """What a run saw: frames processed, seconds, events, and why it stopped."""

    frames: int = 0
    seconds: float = 0.0
    events: int = 0
    faces: int = 0
    stopped_by: str = "end of video"

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


@dataclass
class FrameReport:
    """What the loop made of one frame, for a caller that watches it (`monitor(on_frame=...)`): the frame as read
    and annotated, its faces and visible tracks, the tracks that ended at this frame, its events, the rate."""

    index: int
    frame: np.ndarray
    annotated: np.ndarray
    faces: list[FaceResult]
    tracks: list[Track]
    ended: list[Track]
    events: list[Event]
    fps: float
    tracker: FaceTracker


def monitor(
    pipeline: MaskPipeline,
    source: FrameSource,
    settings: MonitorSettings,
    recorder: Recorder | None = None,
    events: EventLog | None = None,
    on_event: Callable[[Event], None] = lambda event: None,
    on_frame: Callable[[FrameReport], None] | None = None,
    stop: threading.Event | None = None,
) -> MonitorSummary:
    """Run every frame of `source` through the pipeline until the source ends, `q` is pressed in the window,
    Ctrl-C, or `stop` is set; returns the summary. Faces are tracked so a tracked face is classified every other
    frame until its call is settled (the looks `settings.decision` needs; FaceTracker) and only every
    `settings.classify_every` frames after, and called from its recent looks together; a person
    makes one event, at the first look where that call is not compliant and settled, not one per frame. The
    faces drawn and reported carry the person's call. `on_frame` gets each processed frame's FrameReport (after
    its events)."""
    tracker = FaceTracker(settings.track_iou, settings.track_patience, settings.classify_every, settings.decision)
    rate = RateMeter()
    summary = MonitorSummary()
    start = time.perf_counter()
    try:
        while stop is None or not stop.is_set():
            frame = source.read()
            if frame is None:
                break
            index = summary.frames
            visible = tracker.update(pipeline.detector.detect(frame))
            due = tracker.due(visible)
            settled = []  # the tracks whose decision is now not compliant and settled, not yet reported
            for track, face in zip(due, pipeline.classify(frame, [track.detection for track in due])):
                decision = tracker.look(track, face)
                if decision.flagged and not track.reported:
                    settled.append((track, decision))
            faces = [track.current for track in visible]
            summary.faces += len(faces)
            frame_events = []
            for track, decision in settled:
                track.reported = True
                event = Event(
                    now_iso(),
                    index,
                    track.id,
                    decision.label,
                    track.detection.box,
                    decision.probabilities.get(decision.label, 0.0),
                    decision.probability,
                    decision.looks,
                )
                summary.events += 1
                if events is not None:
                    events.write(event)
                settings.alerts.fire(event)
                on_event(event)
                frame_events.append(event)
            fps = rate.tick()
            annotated = draw_overlay(frame, faces, fps, settings.alerts.banner)
            if recorder is not None:
                recorder.write(annotated)
            if on_frame is not None:
                on_frame(
                    FrameReport(index, frame, annotated, faces, visible, tracker.ended, frame_events, fps, tracker)
                )
            summary.frames += 1
            if settings.display:
                cv2.imshow(settings.window, annotated)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    summary.stopped_by = "q pressed"
                    break
                if cv2.getWindowProperty(settings.window, cv2.WND_PROP_VISIBLE) < 1:
                    summary.stopped_by = "window closed"
                    break
        else:
            summary.stopped_by = "stopped"
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
    finally:
        summary.seconds = time.perf_counter() - start
        if settings.display:
            cv2.destroyAllWindows()
    return summary
