"""Faces with dlib (licence-clean, ships in pip packages): the HOG frontal detector, the 68-point landmarks
for head pose, and dlib's ResNet descriptor (128-d, same person below 0.6) on 5-point alignment, the way
the photo checks embed faces; the eye centres come from the same five points. Pose: OpenCV's solvePnP of six landmarks against a generic face model.
The HOG detector finds faces up to about three-quarter view; a full profile reads as "no face".
"""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np

from plugins.base import Availability, missing_packages
from plugins.evaluation.interface import Evaluator, FaceReading

# a generic face (mm): nose tip, chin, eye outer corners, mouth corners — landmarks 30, 8, 36, 45, 48, 54
MODEL_POINTS = np.array(
    [(0.0, 0.0, 0.0), (0.0, -63.6, -12.5), (-43.3, 32.7, -26.0), (43.3, 32.7, -26.0),
     (-28.9, -28.9, -24.1), (28.9, -28.9, -24.1)],
    dtype=np.float64,
)  # fmt: skip
LANDMARKS = (30, 8, 36, 45, 48, 54)
MAX_SIDE = 1024  # bigger pictures are read at this size (the detector's cost grows with the pixels)


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    return Path(spec.origin).parent / "models"


class DlibEvaluator(Evaluator):
    name = "dlib"
    version = "1.1.0"
    label = "Face likeness (dlib)"
    description = "dlib's face detector, landmarks and identity model: free for commercial use."
    same_person_distance: ClassVar[float] = 0.6
    model_licence: ClassVar[str] = "dlib models: Boost Software Licence / CC0 (commercial use allowed)"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models = None

    def availability(self) -> Availability:
        missing = missing_packages("dlib", "face_recognition_models", "cv2")
        if missing:
            return Availability.no(f"a face library is missing ({', '.join(missing)})")
        return Availability.yes("ready (dlib, on the CPU)")

    def _load(self):
        with self._lock:
            if self._models is None:
                import dlib

                folder = models_dir()
                self._models = (
                    dlib.get_frontal_face_detector(),
                    dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat")),
                    dlib.shape_predictor(str(folder / "shape_predictor_68_face_landmarks.dat")),
                    dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat")),
                )
            return self._models

    def warm_up(self) -> None:
        self._load()

    def read(self, images: list[Path]) -> list[FaceReading]:
        return [self.read_one(path) for path in images]

    def read_one(self, path: Path) -> FaceReading:
        from PIL import Image, ImageOps

        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        scale = min(1.0, MAX_SIDE / max(image.size))
        if scale < 1.0:
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        rgb = np.ascontiguousarray(np.asarray(image))
        detector, shape5, shape68, encoder = self._load()
        with self._lock:  # dlib's models are not documented as thread-safe
            boxes = list(detector(rgb, 1))
            if not boxes:
                return FaceReading(found=False)
            box = max(boxes, key=lambda r: r.width() * r.height())
            five = shape5(rgb, box)
            embedding = np.asarray(encoder.compute_face_descriptor(rgb, five), dtype=np.float64)
            points = shape68(rgb, box)
        # the 5-point model: corners of one eye (0, 1), of the other (2, 3), the base of the nose (4)
        centres = sorted(
            ((five.part(a).x + five.part(b).x) / 2 / scale, (five.part(a).y + five.part(b).y) / 2 / scale)
            for a, b in ((0, 1), (2, 3))
        )
        yaw, pitch = head_pose([(points.part(i).x, points.part(i).y) for i in LANDMARKS], rgb.shape)
        x, y = max(0, box.left()), max(0, box.top())
        frame = (round(x / scale), round(y / scale), round(box.width() / scale), round(box.height() / scale))
        return FaceReading(
            found=True, embedding=embedding, box=frame, yaw=yaw, pitch=pitch, eyes=(centres[0], centres[1])
        )


def head_pose(points: list[tuple[int, int]], shape: tuple) -> tuple[float | None, float | None]:
    """(yaw, pitch) in degrees from six landmarks, by solvePnP with a pinhole camera of focal = width."""
    import cv2

    height, width = shape[:2]
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rotation, _ = cv2.solvePnP(
        MODEL_POINTS, np.asarray(points, dtype=np.float64), camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return None, None
    matrix, _ = cv2.Rodrigues(rotation)
    # the face model's axes in the camera frame: yaw about the vertical, pitch about the horizontal
    yaw = math.degrees(math.atan2(-matrix[2, 0], math.hypot(matrix[2, 1], matrix[2, 2])))
    pitch = math.degrees(math.atan2(matrix[2, 1], matrix[2, 2]))
    pitch = (pitch + 180) % 360 - 180
    if pitch > 90:
        pitch -= 180
    elif pitch < -90:
        pitch += 180
    return yaw, pitch
