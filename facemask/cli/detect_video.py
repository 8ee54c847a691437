"""detect_mask_video.py: watch a camera, a video file or a stream and flag faces without a mask, live."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from facemask import defaults
from facemask.cli.common import add_pipeline_arguments, display_available, pipeline_config, run, warn
from facemask.errors import FacemaskError
from facemask.imageio import check_writable
from facemask.pipeline import MaskPipeline
from facemask.settings import PipelineConfig
from facemask.video import (
    RECORDING_CODECS,
    Alerts,
    DecisionSettings,
    Event,
    EventLog,
    FileSource,
    MonitorSettings,
    Recorder,
    SourceLost,
    monitor,
    open_source,
    parse_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Detect faces in live video and tell whether each wears a mask. Press q in the window (or "
        "Ctrl-C) to stop."
    )
    parser.add_argument(
        "--source",
        "-s",
        default="0",
        help="camera index, video file, or stream URL such as rtsp://... or http://... (default: 0)",
    )
    parser.add_argument(
        "--output", "-o", type=Path, default=None, help="record the annotated video here (.mp4, .avi, .mkv or .mov)"
    )
    parser.add_argument(
        "--events",
        "-e",
        type=Path,
        default=None,
        help="append one JSON line per unmasked face appearing (time, frame, box, probability)",
    )
    parser.add_argument(
        "--alert",
        action="store_true",
        help="show a banner while an unmasked face is in view and play a sound on each event",
    )
    parser.add_argument(
        "--alert-command",
        default=None,
        help="run this command on each event (instead of the sound); the event is in its "
        "FACEMASK_EVENT environment variable as JSON",
    )
    parser.add_argument("--no-sound", action="store_true", help="with --alert: the banner only, no sound")
    parser.add_argument(
        "--no-display",
        action="store_true",
        help="no window (headless servers; also chosen automatically when there is no display)",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=5,
        help="times to reconnect a stream that cannot be opened or drops, waiting 1, 2, 4, ... s (default: 5)",
    )
    parser.add_argument(
        "--classify-every",
        type=int,
        default=defaults.CLASSIFY_EVERY,
        help="classify a tracked face again every N frames once its call is settled; until then (its first "
        "--decision-looks classifications) it is classified every other frame "
        f"(default: {defaults.CLASSIFY_EVERY}; 1 classifies every face in every frame)",
    )
    decision = DecisionSettings()
    parser.add_argument(
        "--decision-window",
        type=int,
        default=decision.window,
        help="call each tracked person from their last N classifications (default: "
        f"{decision.window}; see docs/video.md)",
    )
    parser.add_argument(
        "--decision-looks",
        type=int,
        default=decision.looks,
        help="flag a person (one event) once at least N of their last --decision-window "
        f"classifications are not compliant (default: {decision.looks}; 1 with a window of 1: "
        "the first such classification)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing --output video")
    add_pipeline_arguments(parser, PipelineConfig.video())
    return parser


def stop_on_sigterm() -> None:
    """Let `kill`, systemd and docker stop the monitor as cleanly as Ctrl-C does."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def print_event(event: Event) -> None:
    print(
        f"frame {event.frame}: {event.label} face (track {event.track}) at {event.box.as_list()} "
        f"{event.probability:.1%} over {event.looks} looks",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_retries < 0 or args.classify_every < 1:
        raise FacemaskError("--max-retries must be 0 or more and --classify-every at least 1")
    config = pipeline_config(args)
    if args.output is not None:
        if Path(args.source).exists() and Path(args.source).resolve() == args.output.resolve():
            raise FacemaskError(f"--output would overwrite the --source video: {args.output}")
        check_writable(args.output, args.force)
        if args.output.suffix.lower() not in RECORDING_CODECS:
            raise FacemaskError(f"recording needs one of the extensions {', '.join(RECORDING_CODECS)}: {args.output}")
    decision = DecisionSettings(args.decision_window, args.decision_looks)
    command = parse_command(args.alert_command) if args.alert_command else None
    alerts = Alerts(
        banner=args.alert or command is not None,
        sound=args.alert and not args.no_sound and command is None,
        command=command,
    )
    source = open_source(args.source, args.max_retries, on_retry=warn)
    recorder = events = None
    try:
        if args.output is not None:  # a file keeps its own rate; live video is recorded at the rate it is seen
            recorder = Recorder(args.output, source.info.fps if isinstance(source, FileSource) else None)
        events = EventLog(args.events) if args.events is not None else None
        display = not args.no_display and display_available()
        if not args.no_display and not display:
            warn("no display found, running without a window")
        pipeline = MaskPipeline.load(config)
        settings = MonitorSettings(
            classify_every=args.classify_every, decision=decision, display=display, alerts=alerts
        )
        stop_on_sigterm()
        try:
            summary = monitor(pipeline, source.start(), settings, recorder, events, on_event=print_event)
        except SourceLost:  # the stream's video ended for good: what was recorded of it is complete
            if recorder is not None:
                recorder.close()
            raise
        if recorder is not None:  # a clean stop (end of video, q, Ctrl-C, SIGTERM): the recording replaces --output
            recorder.close()
    finally:
        source.close()
        if recorder is not None:  # after a crash: --output keeps what it held
            recorder.discard()
        if events is not None:
            events.close()
        alerts.close()
    print(
        f"{source.info.name}: {summary.frames} frames in {summary.seconds:.1f} s ({summary.fps:.1f} FPS), "
        f"{summary.events} unmasked-face events; stopped by {summary.stopped_by}"
    )
    if recorder is not None and recorder.frames:
        print(f"recorded {recorder.frames} frames to {args.output}")
    if events is not None:
        print(f"events appended to {args.events}")
    return 0


def entry_point() -> None:
    sys.exit(run(main))
