"""Live monitoring: frames from a camera, a file or a stream through the mask pipeline, with face tracking,
debounced events, recording, an on-screen overlay and alerts. One module per concern; the names below are the
package's public interface."""

from facemask.video.alerts import Alerts, parse_command, play_alert_sound, sound_command
from facemask.video.decision import DecisionSettings, PersonDecision
from facemask.video.events import Event, EventLog, now_iso
from facemask.video.monitor import FrameReport, MonitorSettings, MonitorSummary, monitor
from facemask.video.overlay import RateMeter, draw_overlay
from facemask.video.recording import DEFAULT_RECORDING_FPS, RECORDING_CODECS, Recorder
from facemask.video.sources import (
    STREAM_TIMEOUT_MS,
    FileSource,
    FrameSource,
    LiveSource,
    SourceInfo,
    SourceLost,
    is_stream,
    open_source,
    parse_source,
    retry_delays,
)
from facemask.video.tracking import FaceTracker, Track

__all__ = [
    "DEFAULT_RECORDING_FPS",
    "RECORDING_CODECS",
    "STREAM_TIMEOUT_MS",
    "Alerts",
    "DecisionSettings",
    "Event",
    "EventLog",
    "FaceTracker",
    "FileSource",
    "FrameReport",
    "FrameSource",
    "LiveSource",
    "MonitorSettings",
    "MonitorSummary",
    "PersonDecision",
    "RateMeter",
    "Recorder",
    "SourceInfo",
    "SourceLost",
    "Track",
    "draw_overlay",
    "is_stream",
    "monitor",
    "now_iso",
    "open_source",
    "parse_command",
    "parse_source",
    "play_alert_sound",
    "retry_delays",
    "sound_command",
]
