"""The evaluation contract: pictures in, one face reading per picture out — whether a face was found, its
identity embedding (compared by the plugin's own distance and same-person threshold), its head pose and
where its eyes are (the core aligns faces by them to tell a re-framed copy of a photo from a new picture).
The core builds likeness, copying and collapse scores on top (isengard/evaluation); a plugin only sees
faces. A user who accepts another model's licence can add an ArcFace plugin without touching the core.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from plugins.base import Plugin


@dataclass
class FaceReading:
    found: bool
    embedding: np.ndarray | None = None  # the plugin's identity vector for the largest face
    box: tuple[int, int, int, int] | None = None  # x, y, width, height in the picture's pixels
    yaw: float | None = None  # degrees, + = turned to the picture's right; ~0 facing the camera
    pitch: float | None = None  # degrees, + = looking up
    # the centres of the two eyes in the picture's pixels, left one (in the picture) first
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None

    def to_dict(self) -> dict:
        return {
            "found": self.found,
            "box": list(self.box) if self.box else None,
            "yaw": None if self.yaw is None else round(self.yaw, 1),
            "pitch": None if self.pitch is None else round(self.pitch, 1),
        }


class Evaluator(Plugin):
    kind: ClassVar[str] = "evaluation"
    # the distance at which the plugin's model says "the same person" (dlib: 0.6)
    same_person_distance: ClassVar[float] = 0.6
    # the licence of the models it runs, shown beside the scores
    model_licence: ClassVar[str] = ""

    @abstractmethod
    def read(self, images: list[Path]) -> list[FaceReading]:
        """One reading per picture, in order; a picture without a face gives `FaceReading(found=False)`."""

    def warm_up(self) -> None:
        """Load the models now (called in the background when a training starts, so the first scoring
        does not wait for them). Optional."""

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))
