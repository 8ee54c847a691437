"""Decisions per person: a tracked face is called from its recent classifications together, not from any one.

Each time the tracker classifies a face (a look), the pipeline's final FaceResult gives a row of class
probabilities (`look_row`). The person's decision is the classifier's rule (the model's unmasked threshold on
1 - p(with_mask), the likelier non-compliant class winning; without a threshold, the most probable class)
applied to the mean of the rows of their last `window` looks. A non-compliant decision is settled, and raises
the person's event, once it rests on at least `looks` looks. docs/video.md says why these settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from facemask.classification import not_compliant_probability
from facemask.errors import FacemaskError
from facemask.metadata import INCORRECT, MASKED, UNMASKED
from facemask.pipeline import FaceResult

MAX_WINDOW = 50


@dataclass(frozen=True)
class DecisionSettings:
    """How a tracked person is called from their looks: the mean class probabilities of the last `window` looks,
    and a non-compliant call counts (fires its event) once it rests on at least `looks` looks."""

    window: int = 5
    looks: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.window <= MAX_WINDOW:
            raise FacemaskError(f"the decision window (--decision-window) must be 1 to {MAX_WINDOW} looks, "
                                f"got {self.window}")
        if not 1 <= self.looks <= self.window:
            raise FacemaskError(f"the looks a decision needs (--decision-looks) must be 1 to the decision window "
                                f"({self.window}), got {self.looks}")

    @classmethod
    def single_look(cls) -> DecisionSettings:
        """Every look decides alone and the first non-compliant one fires (the rule before decisions per
        person; benchmarks/video_alerts.py's baseline)."""
        return cls(window=1, looks=1)


@dataclass(frozen=True)
class PersonDecision:
    """What a tracked person is called now: the label, the mean probabilities it was decided on, their
    non-compliant probability (1 - p(with_mask)), the looks it rests on, and whether it is settled."""

    label: str
    probabilities: dict[str, float]
    probability: float
    looks: int
    settled: bool

    @property
    def compliant(self) -> bool:
        return self.label == MASKED

    @property
    def flagged(self) -> bool:
        """Not compliant and settled: the person's event fires (once per track)."""
        return not self.compliant and self.settled


def look_row(face: FaceResult) -> dict[str, float]:
    """The class probabilities one look contributes: the classifier's, except where a check relabeled the face
    mask_worn_incorrectly (the nose check on a face called with_mask, the chin check on one called without_mask):
    then the check's probability p goes to mask_worn_incorrectly and 1 - p stays with the class the classifier
    called, so the look decides as the pipeline labelled it."""
    relabeled = face.label == INCORRECT and (face.nose_uncovered is not None or face.mask_on_chin is not None)
    if not relabeled:
        return dict(face.probabilities)
    called = MASKED if face.nose_uncovered is not None else UNMASKED
    row = dict.fromkeys(face.probabilities, 0.0)
    row[called], row[INCORRECT] = 1.0 - face.probability, face.probability
    return row


def call(row: Mapping[str, float], threshold: float | None) -> str:
    """The label of a row of class probabilities under the classifier's rule (MaskClassifier.decide, on a mapping
    that may also hold mask_worn_incorrectly for a two-class model with checks)."""
    if threshold is None or MASKED not in row:
        return max(row, key=row.__getitem__)
    if not_compliant_probability(row) < threshold:
        return MASKED
    return max((name for name in row if name != MASKED), key=row.__getitem__)


def decide(rows: Iterable[Mapping[str, float]], looks: int, settings: DecisionSettings,
           threshold: float | None) -> PersonDecision:
    """The decision on the rows of a person's last looks (the newest last; only the last `settings.window`
    count); `looks`: how many looks the person has had in all."""
    recent = list(rows)[-settings.window:]
    names = sorted({name for row in recent for name in row})
    mean = {name: sum(row.get(name, 0.0) for row in recent) / len(recent) for name in names}
    label = call(mean, threshold)
    return PersonDecision(label, mean, not_compliant_probability(mean), looks, looks >= settings.looks)
