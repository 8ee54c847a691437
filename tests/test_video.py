"""detect_mask_video.py run headless on a video made from real annotated photos, with the real detector and the
shipped model; sources that do not open; tracking, decisions per person on real classifications, and back-off."""

from __future__ import annotations

import functools
import http.server
import json
import shlex
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from facemask.detection import create_detector
from facemask.errors import FacemaskError
from facemask.evaluation import load_scenes
from facemask.geometry import Box, Detection
from facemask.imageio import letterbox, read_image
from facemask.metadata import INCORRECT, MASKED, UNMASKED
from facemask.pipeline import FaceResult
from facemask.video import DecisionSettings, FaceTracker, retry_delays

from scenes import single_face_scenes

SIZE = (640, 480)
SCENE_FRAMES = 25  # 1 s at 25 FPS: 6 looks at the default cadence, more than a decision needs
CLASSIFY_EVERY = 5  # the default cadence once a call is settled (facemask.defaults.CLASSIFY_EVERY)
GAP_FRAMES = 12  # longer than the tracker's patience (10 frames), so each scene's face is a new person


@dataclass(frozen=True)
class Segment:
    """A stretch of the test video showing one annotated photo."""

    name: str
    label: str
    first: int
    last: int
    box: Box  # the annotated face, in video coordinates


def chosen_scenes(scenes_dir: Path) -> list[tuple[object, str]]:
    """Per label, the two single-face scenes whose face is widest while 60-160 px once in the video (faces of a
    person a few metres from a camera), unmasked and masked alternating."""
    picked = {}
    for label in ("without_mask", "with_mask"):
        candidates = []
        for scene in load_scenes(scenes_dir):
            if len(scene.faces) == 1 and scene.faces[0].label == label:
                height, width = read_image(scene.path).shape[:2]
                width_in_video = scene.faces[0].box.w * min(SIZE[0] / width, SIZE[1] / height)
                if 60 <= width_in_video <= 160:
                    candidates.append((-round(width_in_video), scene.name, scene))
        picked[label] = [scene for _, _, scene in sorted(candidates, key=lambda c: c[:2])[:2]]
        assert len(picked[label]) == 2, f"not enough single-face {label} scenes in {scenes_dir}"
    return [(picked[label][i], label) for i in range(2) for label in ("without_mask", "with_mask")]


@pytest.fixture(scope="module")
def scene_video(scenes_dir: Path, tmp_path_factory) -> tuple[Path, list[Segment], int]:
    """An MJPG video: four annotated photos for 25 frames each, grey gaps of 12 frames between them."""
    path = tmp_path_factory.mktemp("video") / "scenes.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, SIZE)
    segments, index = [], 0
    for number, (scene, label) in enumerate(chosen_scenes(scenes_dir)):
        if number:
            for _ in range(GAP_FRAMES):
                writer.write(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8))
            index += GAP_FRAMES
        frame, scale, left, top = letterbox(read_image(scene.path), SIZE, fill=128)
        face = scene.faces[0].box
        box = Box(
            round(face.x * scale) + left, round(face.y * scale) + top, round(face.w * scale), round(face.h * scale)
        )
        segments.append(Segment(scene.name, label, index, index + SCENE_FRAMES - 1, box))
        for _ in range(SCENE_FRAMES):
            writer.write(frame)
        index += SCENE_FRAMES
    writer.release()
    return path, segments, index


def read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        grabbed, frame = capture.read()
        if not grabbed:
            break
        frames.append(frame)
    capture.release()
    return frames


def banner_is_red(frame: np.ndarray) -> bool:
    """Whether the alert banner (bottom centre) is showing."""
    band = frame[-12:, SIZE[0] // 2 - 40 : SIZE[0] // 2 + 40].reshape(-1, 3).mean(axis=0)
    return band[2] > 170 and band[0] < 90 and band[1] < 90


@pytest.fixture(scope="module")
def headless_run(scene_video, run_script, tmp_path_factory):
    """One headless run of the script recording, logging events and running an alert command."""
    video, segments, frames = scene_video
    folder = tmp_path_factory.mktemp("run")
    output, events, alerts = folder / "annotated.mp4", folder / "events.jsonl", folder / "alerts.jsonl"
    events.write_text('{"earlier": "line"}\n')
    hook = folder / "hook.py"
    hook.write_text("import os, sys\nopen(sys.argv[1], 'a').write(os.environ['FACEMASK_EVENT'] + '\\n')\n")
    command = shlex.join([sys.executable, str(hook), str(alerts)])
    result = run_script(
        "detect_mask_video.py",
        "--source",
        video,
        "--output",
        output,
        "--events",
        events,
        "--alert-command",
        command,
        "--no-display",
    )
    return result, output, events, alerts, segments, frames


def test_run_ends_cleanly_at_the_end_of_the_file(headless_run):
    result, *_, frames = headless_run
    assert result.returncode == 0, result.stderr
    assert f"{frames} frames" in result.stdout
    assert "stopped by end of video" in result.stdout


def test_recording_has_every_frame_at_the_source_size(headless_run):
    _result, output, *_, frames = headless_run
    recorded = read_video(output)
    assert len(recorded) == frames
    assert {frame.shape for frame in recorded} == {(SIZE[1], SIZE[0], 3)}
    assert not list(output.parent.glob(".annotated*")), "temporary recording left behind"


def test_each_unmasked_person_is_one_event_and_masked_ones_none(headless_run):
    result, _, events, _, segments, _ = headless_run
    lines = events.read_text().splitlines()
    assert json.loads(lines[0]) == {"earlier": "line"}, "the events file must be appended to"
    logged = [json.loads(line) for line in lines[1:]]
    assert {"time", "frame", "box", "probability", "label", "track", "not_compliant", "looks"} <= set(logged[0])
    looks_needed = DecisionSettings().looks
    for segment in segments:
        inside = [event for event in logged if segment.first <= event["frame"] <= segment.last]
        if segment.label == "with_mask":
            assert inside == [], f"{segment.name} (masked) raised {inside}"
        else:
            assert len(inside) == 1, f"{segment.name} (unmasked, {SCENE_FRAMES} frames) raised {inside}"
            event = inside[0]
            # classified every other frame from the track's first until the call is settled, then every
            # CLASSIFY_EVERY frames: the event comes with a look, and says how many looks that took
            assert event["looks"] >= looks_needed
            assert event["frame"] - segment.first == look_frames(looks_needed, CLASSIFY_EVERY)[event["looks"] - 1]
            assert Box(*event["box"]).iou(segment.box) > 0.3
            assert event["label"] != "with_mask" and 0.0 < event["not_compliant"] <= 1.0
            assert 0.0 < event["probability"] <= 1.0
    assert len(logged) == sum(segment.label != "with_mask" for segment in segments)
    assert sum(line.startswith("frame ") for line in result.stdout.splitlines()) == len(logged)


def test_alert_command_gets_each_event_and_banner_shows_while_unmasked(headless_run):
    _, output, events, alerts, segments, _ = headless_run
    assert alerts.read_text().splitlines() == events.read_text().splitlines()[1:]
    recorded = read_video(output)
    for segment in segments:
        middle = recorded[(segment.first + segment.last) // 2]
        assert banner_is_red(middle) == (segment.label != "with_mask"), segment.name


def look_frames(settling: int, every: int, count: int = 50) -> list[int]:
    """The frames, counted from a track's first, of its first `count` looks when it is seen in every frame: one
    every other frame (every frame if `every` is 1) until the call has its `settling` looks, then one every
    `every` frames."""
    gap = min(2, every)
    return [n * gap if n < settling else (settling - 1) * gap + (n - settling + 1) * every for n in range(count)]


class OneVideoServer:
    """A local HTTP server that serves a folder until the first download ends, then goes away: a stream that
    drops for good."""

    def __init__(self, folder: Path) -> None:
        served = threading.Event()

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                super().do_GET()
                served.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
        )
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        threading.Thread(target=self._stop_after, args=(served,), daemon=True).start()

    def _stop_after(self, served: threading.Event) -> None:
        served.wait()
        self.server.shutdown()
        self.server.server_close()


def test_a_stream_that_drops_is_retried_then_ends_with_a_clear_error_and_a_closed_recording(
    scene_video, run_script, tmp_path
):
    video = scene_video[0]
    server = OneVideoServer(video.parent)
    url = f"http://127.0.0.1:{server.port}/{video.name}"
    output = tmp_path / "stream.avi"
    result = run_script(
        "detect_mask_video.py", "--source", url, "--output", output, "--max-retries", "1", "--alert", "--no-display"
    )  # a sound, or none, never breaks a run
    assert result.returncode == 2
    assert f"warning: stream {url} unavailable, retrying in 1 s" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: stream {url} dropped: cannot open stream {url} after 1 retries"
    )
    recorded = read_video(output)
    assert recorded and {frame.shape for frame in recorded} == {(SIZE[1], SIZE[0], 3)}


@pytest.mark.parametrize(
    "source, message",
    [
        ("99", "cannot open camera 99"),
        ("missing.mp4", "video file not found: missing.mp4"),
        ("rtsp://127.0.0.1:9/none", "cannot open stream rtsp://127.0.0.1:9/none after 1 retries"),
    ],
)
def test_a_source_that_does_not_open_is_a_one_line_error(run_script, source, message):
    result = run_script("detect_mask_video.py", "--source", source, "--max-retries", "1", "--no-display")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    if source.startswith("rtsp"):
        assert "retrying in 1 s" in result.stderr


def test_a_file_that_is_not_a_video(run_script, tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video")
    result = run_script("detect_mask_video.py", "--source", fake, "--no-display")
    assert result.returncode == 2 and result.stderr.strip().startswith("error: cannot open video file")


@pytest.mark.parametrize(
    "option, value",
    [
        ("--detection-size", "8"),
        ("--classify-every", "0"),
        ("--unmasked-threshold", "2"),
        ("--decision-window", "0"),
        ("--decision-looks", "4"),
    ],
)
def test_out_of_range_options_are_one_line_errors(scene_video, run_script, option, value):
    result = run_script("detect_mask_video.py", "--source", scene_video[0], "--no-display", option, value)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and option in result.stderr, result.stderr


@pytest.mark.slow
def test_outputs_are_checked_before_anything_runs(scene_video, run_script, tmp_path):
    video = scene_video[0]
    existing = tmp_path / "existing.mp4"
    existing.write_bytes(b"keep me")
    cases = [
        (["--output", existing], "output exists (use --force to overwrite)"),
        (["--output", tmp_path / "clip.gif"], "recording needs one of the extensions"),
        (["--output", video, "--force"], "would overwrite the --source video"),
        (["--events", tmp_path / "no" / "events.jsonl"], "events folder does not exist"),
        (["--alert-command", "no-such-program-here --now"], "program not found"),
    ]
    for arguments, message in cases:
        result = run_script("detect_mask_video.py", "--source", video, "--no-display", *arguments)
        assert result.returncode == 2 and message in result.stderr, (arguments, result.stderr)
    assert existing.read_bytes() == b"keep me"


def test_tracker_follows_moving_faces_looks_until_settled_and_forgets_them_after_its_patience(
    scenes_dir, default_pipeline
):
    scene = next(
        scene
        for scene in load_scenes(scenes_dir)
        if len(scene.faces) >= 2 and min(face.box.w for face in scene.faces) >= 50
    )
    image = read_image(scene.path)
    found = create_detector("ssd").detect(image)
    assert len(found) >= 2
    looks = default_pipeline.classify(image, found)  # real classifications of these faces

    def moved(step: int) -> list[Detection]:
        shift = step * max(1, min(d.box.w for d in found) // 20)
        return [Detection(Box(d.box.x + shift, d.box.y, d.box.w, d.box.h), d.score) for d in found]

    def looked(tracker: FaceTracker, steps: int, unseen: tuple[int, ...] = ()) -> list[int]:
        """The steps at which the tracker looks at the moving faces (all of them at once: they appeared
        together), classifying them as the monitor does; the faces are not detected at the `unseen` steps."""
        at, ids = [], []
        for step in range(steps):
            visible = tracker.update([] if step in unseen else moved(step))
            if step in unseen:
                assert visible == []
                continue
            ids = ids or [track.id for track in visible]
            assert [track.id for track in visible] == ids and len(set(ids)) == len(found)
            due = tracker.due(visible)
            assert due in (visible, [])
            if due:
                at.append(step)
            for track, face in zip(due, looks):
                decision = tracker.look(track, face)
                assert decision.settled == (track.looks >= tracker.decision.looks)
        return at

    steps = 3 * CLASSIFY_EVERY
    # a look every other frame until the call rests on the looks it needs, then one every CLASSIFY_EVERY frames
    tracker = FaceTracker(iou_threshold=0.3, patience=3, classify_every=CLASSIFY_EVERY)
    assert looked(tracker, steps) == [0, 2, 4, 4 + CLASSIFY_EVERY, 4 + 2 * CLASSIFY_EVERY]
    assert looked(FaceTracker(classify_every=CLASSIFY_EVERY), steps) == [
        frame for frame in look_frames(DecisionSettings().looks, CLASSIFY_EVERY) if frame < steps
    ]
    assert all(track.looks == 5 and track.decision.settled for track in tracker.tracks)
    ids = [track.id for track in tracker.tracks]
    # a face missed when its next settling look was due gets it the next frame it is seen
    assert looked(FaceTracker(classify_every=CLASSIFY_EVERY), 8, unseen=(2,)) == [0, 3, 5]
    # every frame when the cadence is 1; a call that needs one look is settled at once
    assert looked(FaceTracker(classify_every=1), 6) == list(range(6))
    assert looked(FaceTracker(classify_every=CLASSIFY_EVERY, decision=DecisionSettings.single_look()), steps) == [
        0,
        CLASSIFY_EVERY,
        2 * CLASSIFY_EVERY,
    ]
    for _ in range(3):
        assert tracker.update([]) == [] and len(tracker.tracks) == len(found)
    tracker.update([])
    assert tracker.tracks == []
    assert all(track.id not in ids for track in tracker.update(moved(0)))


@pytest.fixture(scope="module")
def real_looks(scenes_dir, default_pipeline) -> dict[str, list[FaceResult]]:
    """Real classifications by the default pipeline: per label, the faces of single-face scenes of that label
    that the pipeline labels so."""
    looks = {}
    for label in (MASKED, UNMASKED):
        faces = [
            face
            for path, _ in single_face_scenes(scenes_dir, label, count=8)
            for face in default_pipeline.process(read_image(path))
            if face.label == label
        ]
        assert len(faces) >= 3, f"fewer than 3 {label} faces called {label} in {scenes_dir}"
        looks[label] = faces
    return looks


def follow(looks: list[FaceResult], settings: DecisionSettings) -> list:
    """One track given `looks` in turn, as the monitor gives it its classifications: the decision after each."""
    tracker = FaceTracker(decision=settings)
    track = tracker.update([Detection(looks[0].box, looks[0].score)])[0]
    return [tracker.look(track, face) for face in looks]


def fires(decisions) -> list[int]:
    """The looks (1-based) at which a non-compliant, settled decision would raise the event."""
    return [decision.looks for decision in decisions if decision.flagged]


def test_one_unmasked_look_among_masked_ones_does_not_flag_the_person(real_looks):
    masked, unmasked = real_looks[MASKED], real_looks[UNMASKED]
    for position in range(4):  # the stray look first, second, ... among masked looks
        looks = [masked[i % len(masked)] for i in range(6)]
        looks[position] = unmasked[0]
        decisions = follow(looks, DecisionSettings())
        assert fires(decisions) == [], (position, decisions)
        assert decisions[-1].label == MASKED and decisions[-1].looks == 6
        # the rule of a single look would have flagged this masked person at the stray look
        assert fires(follow(looks, DecisionSettings.single_look()))[:1] == [position + 1]


def test_a_person_unmasked_in_every_look_is_flagged_once_settled(real_looks, default_pipeline):
    settings = DecisionSettings()
    decisions = follow(real_looks[UNMASKED][:3] * 2, settings)
    assert [decision.label for decision in decisions] == [UNMASKED] * 6
    assert [decision.settled for decision in decisions] == [n >= settings.looks for n in range(1, 7)]
    assert fires(decisions)[0] == settings.looks
    assert all(decision.probability >= default_pipeline.classifier.unmasked_threshold for decision in decisions)


def test_a_person_masked_but_for_the_first_look_is_called_masked_once_settled(real_looks):
    decisions = follow([real_looks[UNMASKED][0], *real_looks[MASKED][:3]], DecisionSettings())
    assert [decision.label for decision in decisions] == [UNMASKED, MASKED, MASKED, MASKED]
    assert fires(decisions) == []


def test_a_person_worn_incorrectly_in_most_looks_is_called_so(real_looks):
    """A three-class model's looks: the person's label is the most frequent non-compliant label of the window."""
    masked = real_looks[MASKED][0]
    three = dict(masked.probabilities, **{INCORRECT: 0.0})
    worn = FaceResult(masked.box, masked.score, INCORRECT, 0.8, {MASKED: 0.1, UNMASKED: 0.1, INCORRECT: 0.8})
    decisions = follow([FaceResult(masked.box, masked.score, MASKED, 0.9, three), worn, worn, worn], DecisionSettings())
    assert [decision.label for decision in decisions] == [MASKED, INCORRECT, MASKED, INCORRECT]
    assert fires(decisions) == [4] and decisions[-1].probabilities[INCORRECT] == pytest.approx(0.8)


@pytest.mark.parametrize(
    "window, looks, message",
    [(0, 1, "--decision-window"), (51, 3, "--decision-window"), (5, 0, "--decision-looks"), (3, 4, "--decision-looks")],
)
def test_decision_settings_out_of_range_name_the_setting(window, looks, message):
    with pytest.raises(FacemaskError, match=message):
        DecisionSettings(window, looks)


def test_back_off_doubles_up_to_thirty_seconds():
    assert list(retry_delays(7)) == [1, 2, 4, 8, 16, 30, 30]
    assert list(retry_delays(0)) == []
