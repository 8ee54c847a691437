"""Following faces from frame to frame, so a tracked face is classified every other frame until its call is
settled and every few frames after, called from its looks together (facemask.video.decision) and reported
once."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from facemask.geometry import Detection, match_boxes
from facemask.pipeline import FaceResult
from facemask.video.decision import MAX_WINDOW, DecisionSettings, PersonDecision, decide

# Until its call is settled a track is classified every SETTLING_GAP frames (or every `classify_every` frames,
# if that is fewer): the looks a call needs come soon after a face appears, but not from consecutive frames,
# which are nearly the same picture (docs/video.md, "Events": every frame flagged more masked people).
SETTLING_GAP = 2


@dataclass
class Track:
    """One face followed across frames: its latest box, its latest classification (`face`), its recent looks
    (`recent`, the pipeline's results), how many looks it has had, and the decision on them (`decision`, the
    person's call)."""

    id: int
    detection: Detection
    face: FaceResult | None = None
    since_classified: int = 0
    missed: int = 0
    reported: bool = False
    recent: deque = field(default_factory=lambda: deque(maxlen=MAX_WINDOW))
    looks: int = 0
    decision: PersonDecision | None = None

    @property
    def current(self) -> FaceResult:
        """The person at this frame's box: the latest classification, labelled with the decision on the recent
        looks (its probability: the looks' mean probability of that label)."""
        if self.face is None:
            raise ValueError(f"track {self.id} has not been classified yet")
        face = replace(self.face, box=self.detection.box, score=self.detection.score)
        if self.decision is None:
            return face
        return replace(
            face,
            label=self.decision.label,
            probability=self.decision.probabilities.get(self.decision.label, face.probability),
        )


class FaceTracker:
    """Follows faces from frame to frame by box overlap (greedy, highest IoU first).

    A track survives `patience` frames without a matching detection. Each classification (`look`) updates the
    track's decision under `decision`. A new track is classified at once and, until its call is settled (it has
    had the `decision.looks` looks the call needs), every SETTLING_GAP frames, so a person's event can fire
    within a few frames of their appearing; after that `classify_every` says how many frames it keeps its
    classification before it is classified again (1: every frame, settling or not).
    """

    def __init__(
        self,
        iou_threshold: float = 0.3,
        patience: int = 10,
        classify_every: int = 1,
        decision: DecisionSettings = DecisionSettings(),
    ) -> None:
        self.iou_threshold = iou_threshold
        self.patience = patience
        self.classify_every = classify_every
        self.decision = decision
        self.tracks: list[Track] = []
        self.ended: list[Track] = []  # the tracks the last update dropped (unseen for more than `patience` frames)
        self._next_id = 1

    def update(self, detections: list[Detection]) -> list[Track]:
        """Match this frame's detections to the tracks; returns the tracks seen in this frame."""
        matches = match_boxes(
            [track.detection.box for track in self.tracks],
            [d.box for d in detections],
            self.iou_threshold,
            inclusive=True,
        )
        matched_tracks, matched_detections = set(matches), set(matches.values())
        for t, i in matches.items():
            track = self.tracks[t]
            track.detection, track.missed = detections[i], 0
            track.since_classified += 1
        for t, track in enumerate(self.tracks):
            if t not in matched_tracks:
                track.missed += 1
                track.since_classified += 1
        self.ended = [track for track in self.tracks if track.missed > self.patience]
        self.tracks = [track for track in self.tracks if track.missed <= self.patience]
        for i, detection in enumerate(detections):
            if i not in matched_detections:
                self.tracks.append(Track(self._next_id, detection))
                self._next_id += 1
        return [track for track in self.tracks if track.missed == 0]

    def due(self, visible: list[Track]) -> list[Track]:
        """The visible tracks to classify in this frame: new ones, those whose call is not settled yet (fewer
        looks than the decision needs) classified SETTLING_GAP frames ago, and the others classified
        `classify_every` frames ago."""
        settling = min(SETTLING_GAP, self.classify_every)
        return [
            track
            for track in visible
            if track.face is None
            or track.since_classified >= (settling if track.looks < self.decision.looks else self.classify_every)
        ]

    def look(self, track: Track, face: FaceResult) -> PersonDecision:
        """Record a classification of `track` (the pipeline's final result) and decide the person again."""
        track.face, track.since_classified = face, 0
        track.recent.append(face)
        track.looks += 1
        track.decision = decide(track.recent, track.looks, self.decision)
        return track.decision
