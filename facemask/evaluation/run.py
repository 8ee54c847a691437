"""Running the pipeline over a scene set: what happened to every annotated face and every other detection."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from facemask.classification import not_compliant_probability
from facemask.evaluation.scenes import Scene
from facemask.geometry import Box, Detection, match_boxes
from facemask.imageio import read_image

MATCH_IOU = 0.5  # a detection finds an annotated face when their IoU exceeds this (one box per face)


@dataclass(frozen=True)
class FaceOutcome:
    """What happened to one annotated face: found or not, and what the classifier said about it.

    `predicted` / `unmasked_probability` come from the pipeline's matched detection (None when not found);
    `direct_label` / `direct_unmasked_probability` from the classifier run on the annotated box itself. The
    unmasked probability is that of not compliant, the score the decision threshold applies to: every class but
    with_mask (`facemask.classification.not_compliant_probability`).
    """

    image: str
    box: Box
    label: str
    predicted: str | None
    unmasked_probability: float | None
    direct_label: str
    direct_unmasked_probability: float

    @property
    def found(self) -> bool:
        return self.predicted is not None


@dataclass(frozen=True)
class FalseDetection:
    """A predicted box that matched no annotated face, with its best overlap with any of them."""

    image: str
    box: Box
    score: float
    label: str
    best_iou: float


@dataclass
class SceneEvaluation:
    """The raw outcome of running the pipeline over a scene set."""

    images: int = 0
    faces: list[FaceOutcome] = field(default_factory=list)
    false_detections: list[FalseDetection] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def evaluate_scene(pipeline, scene: Scene, image: np.ndarray, evaluation: SceneEvaluation) -> None:
    """Run `pipeline` on one scene and add its faces, false detections and time to `evaluation`."""
    start = time.perf_counter()
    results = pipeline.process(image)
    evaluation.seconds.append(time.perf_counter() - start)
    evaluation.images += 1
    truth = [face.box for face in scene.faces]
    matched = match_boxes(truth, [result.box for result in results], MATCH_IOU)
    direct = pipeline.classify(image, [Detection(box, 1.0) for box in truth])
    for index, (face, on_box) in enumerate(zip(scene.faces, direct)):
        result = results[matched[index]] if index in matched else None
        evaluation.faces.append(
            FaceOutcome(
                scene.name,
                face.box,
                face.label,
                result.label if result else None,
                not_compliant_probability(result.probabilities) if result else None,
                on_box.label,
                not_compliant_probability(on_box.probabilities),
            )
        )
    used = set(matched.values())
    for number, result in enumerate(results):
        if number not in used:
            best = max((result.box.iou(box) for box in truth), default=0.0)
            evaluation.false_detections.append(FalseDetection(scene.name, result.box, result.score, result.label, best))


def evaluate(pipeline, scenes: list[Scene], progress: bool = True) -> SceneEvaluation:
    """Run `pipeline` (a MaskPipeline) over every scene, with a progress bar; one untimed warm-up call first."""
    from tqdm import tqdm

    evaluation = SceneEvaluation()
    if scenes:  # the first call builds the networks' kernels: keep it out of the timing
        pipeline.process(read_image(scenes[0].path))
    for scene in tqdm(scenes, desc="scenes", unit="image", disable=not progress, leave=False):
        evaluate_scene(pipeline, scene, read_image(scene.path), evaluation)
    return evaluation
