"""What a batch of results adds up to: images, failures, faces, and how many people were called each class
(masked, unmasked, mask worn incorrectly, or whatever classes the model has), with their shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from facemask.batch.results import is_error
from facemask.metadata import INCORRECT, MASKED, UNMASKED

# How the summary names the shipped classes; any other class is shown by its own name.
PEOPLE = {MASKED: "masked", UNMASKED: "unmasked", INCORRECT: "mask worn incorrectly"}


@dataclass
class ResultSummary:
    """Counts over results records. `labels`: faces per class, in the model's class order (classes are taken
    from `class_names` where given, and from each face's probabilities, so a three-class model's results show
    three classes even where one has no face)."""

    images: int = 0
    failed: int = 0
    images_with_faces: int = 0
    faces: int = 0
    labels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]], class_names: Sequence[str] = ()) -> ResultSummary:
        summary = cls(labels=dict.fromkeys(class_names, 0))
        for record in records:
            summary.add(record)
        return summary

    def add(self, record: dict[str, Any]) -> None:
        """Count one image's record."""
        self.images += 1
        if is_error(record):
            self.failed += 1
            return
        faces = record.get("faces") or []
        self.images_with_faces += bool(faces)
        for face in faces:
            self.faces += 1
            for name in face.get("probabilities", {}):
                self.labels.setdefault(name, 0)
            label = face.get("label")
            self.labels[label] = self.labels.get(label, 0) + 1

    def share(self, label: str) -> float:
        """The fraction of the faces called `label` (0 where there are no faces)."""
        return self.labels.get(label, 0) / self.faces if self.faces else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "failed": self.failed,
            "images_with_faces": self.images_with_faces,
            "faces": self.faces,
            "labels": {
                name: {"faces": count, "share": round(self.share(name), 4)} for name, count in self.labels.items()
            },
        }

    def lines(self) -> list[str]:
        """The summary as the tools print it."""
        lines = [
            f"images: {self.images} ({self.failed} failed, {self.images_with_faces} with faces)",
            f"faces: {self.faces}",
        ]
        for name, count in self.labels.items():
            lines.append(f"  {PEOPLE.get(name, name)} ({name}): {count} ({100 * self.share(name):.1f}%)")
        return lines
