"""Choosing the decision threshold on annotated scenes, cross-validated over whole images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facemask.errors import FacemaskError
from facemask.evaluation.run import SceneEvaluation
from facemask.metadata import INCORRECT, MASKED, UNMASKED, is_flagged

TARGET_TNR, TARGET_FNR = 0.92, 0.03  # what a mask alarm must reach (issue 3)
THRESHOLD_GRID = tuple(round(0.01 * step, 2) for step in range(1, 100))


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold on the probability of not compliant (the unmasked probability of a two-class model),
    chosen on scenes, with its rates there and the rates
    of the same choice made on the other folds and applied to each held-out fold (images never split)."""

    threshold: float
    tnr: float
    fnr: float
    folds: int
    cross_validated_tnr: float
    cross_validated_fnr: float
    fold_thresholds: tuple[float, ...]


def best_threshold(
    unmasked: np.ndarray, scores: np.ndarray, target_tnr: float = TARGET_TNR, target_fnr: float = TARGET_FNR
) -> float:
    """The middle of the range of thresholds that meet both targets on these faces, as far from either edge of
    it as the faces allow. Where no threshold meets both, the one whose worse error, as a share of what its
    target allows, max((1 - TNR) / (1 - target_tnr), FNR / target_fnr), is smallest (the middle one of those
    tied)."""
    grid = np.asarray(THRESHOLD_GRID)
    flagged = scores[None, :] >= grid[:, None]
    miss = 1.0 - flagged[:, unmasked].mean(axis=1)
    false_alarm = flagged[:, ~unmasked].mean(axis=1)
    meets = (1.0 - miss >= target_tnr - 1e-9) & (false_alarm <= target_fnr + 1e-9)
    if meets.any():
        return float(grid[meets][meets.sum() // 2])
    worst = np.maximum(miss / (1.0 - target_tnr), false_alarm / target_fnr)
    tied = grid[worst <= worst.min() + 1e-9]
    return float(tied[len(tied) // 2])


def choose_threshold(evaluation: SceneEvaluation, folds: int = 5, seed: int = 0) -> ThresholdChoice:
    """Choose the threshold on the probability of not compliant (1 - p(with_mask)) on the scenes' faces labelled
    with_mask against those labelled without_mask or mask_worn_incorrectly (a face the detector missed is never
    flagged), and cross-validate that choice over `folds` groups of whole images."""
    from sklearn.model_selection import GroupKFold

    faces = [face for face in evaluation.faces if face.label in (MASKED, UNMASKED, INCORRECT)]
    unmasked = np.array([is_flagged(face.label) for face in faces])
    scores = np.array([face.unmasked_probability or 0.0 for face in faces])
    images = np.array([face.image for face in faces])
    if unmasked.all() or not unmasked.any():
        raise FacemaskError(
            "choosing a threshold needs both masked faces and unmasked (or incorrectly masked) faces in the scenes"
        )
    if len(set(images)) < folds:
        raise FacemaskError(f"cross-validation needs at least {folds} images with faces, got {len(set(images))}")

    def rates(flagged: np.ndarray) -> tuple[float, float]:
        return float(flagged[unmasked].mean()), float(flagged[~unmasked].mean())

    held_out = np.zeros(len(faces), dtype=bool)
    fold_thresholds = []
    for train, test in GroupKFold(folds, shuffle=True, random_state=seed).split(scores, unmasked, images):
        fold_thresholds.append(best_threshold(unmasked[train], scores[train]))
        held_out[test] = scores[test] >= fold_thresholds[-1]
    threshold = best_threshold(unmasked, scores)
    tnr, fnr = rates(scores >= threshold)
    cv_tnr, cv_fnr = rates(held_out)
    return ThresholdChoice(threshold, tnr, fnr, folds, cv_tnr, cv_fnr, tuple(fold_thresholds))
