"""Decisions per person: a tracked face is called from its recent classifications together, not from any one.

Each time the tracker classifies a face (a look), the pipeline's final FaceResult labels it.
Once a person has had `looks` looks, they are called not compliant when at least `looks` of their last `window`
looks are (with the most frequent of those looks' labels, the latest on a tie), and with_mask otherwise; before
that, the latest look stands. A call that is not compliant once it rests on `looks` looks is flagged: the
person's event fires. docs/video.md says why this rule and these settings (benchmarks/video_alerts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from facemask.classification import not_compliant_probability
from facemask.errors import FacemaskError
from facemask.metadata import MASKED, is_flagged
from facemask.pipeline import FaceResult

MAX_WINDOW = 50


@dataclass(frozen=True)
class DecisionSettings:
    """How a tracked person is called from their looks: not compliant when at least `looks` of their last
    `window` looks are, once they have had `looks` looks."""

    window: int = 3
    looks: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.window <= MAX_WINDOW:
            raise FacemaskError(
                f"the decision window (--decision-window) must be 1 to {MAX_WINDOW} looks, got {self.window}"
            )
        if not 1 <= self.looks <= self.window:
            raise FacemaskError(
                f"the looks a decision needs (--decision-looks) must be 1 to the decision window "
                f"({self.window}), got {self.looks}"
            )

    @classmethod
    def single_look(cls) -> DecisionSettings:
        """Every look decides alone and the first non-compliant one fires (the rule before decisions per
        person; benchmarks/video_alerts.py's baseline)."""
        return cls(window=1, looks=1)


@dataclass(frozen=True)
class PersonDecision:
    """What a tracked person is called now: the label; the mean class probabilities of the looks in the window
    (each look's class probabilities) and their probability of not being compliant (1 - p(with_mask)); how many
    looks the person has had; whether the call is settled (rests on at least the looks it needs)."""

    label: str
    probabilities: dict[str, float]
    probability: float
    looks: int
    settled: bool

    @property
    def compliant(self) -> bool:
        return not is_flagged(self.label)

    @property
    def flagged(self) -> bool:
        """Not compliant and settled: the person's event fires (once per track)."""
        return not self.compliant and self.settled


def decide(faces: Sequence[FaceResult], looks: int, settings: DecisionSettings) -> PersonDecision:
    """The decision on a person's last looks (`faces`, the pipeline's final results, the newest last; only the
    last `settings.window` count); `looks`: how many looks the person has had in all."""
    recent = list(faces)[-settings.window :]
    rows = [face.probabilities for face in recent]
    names = sorted({name for row in rows for name in row})
    mean = {name: sum(row.get(name, 0.0) for row in rows) / len(rows) for name in names}
    settled = looks >= settings.looks
    label = recent[-1].label
    if settled:
        flagged = [face.label for face in recent if is_flagged(face.label)]
        label = MASKED
        if len(flagged) >= settings.looks:  # the most frequent non-compliant label, the latest on a tie
            label = max(reversed(flagged), key=flagged.count)
    return PersonDecision(label, mean, not_compliant_probability(mean), looks, settled)
