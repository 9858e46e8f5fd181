"""Measuring each photo (faces, sharpness, perceptual hash, face embedding) and the set as a whole
(near-duplicates, identity). Pure measurements; `report.py` turns them into advice.

Faces: OpenCV Haar cascades. Identity: dlib's ResNet face descriptor (128-d; same person < 0.6).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

WORK_SIDE = 800  # photos are measured at this long side: faster, and comparable across sizes
DLIB_SAME_PERSON = 0.6  # dlib's descriptor: the same person below this distance
NEAR_DUPLICATE_BITS = 6  # of 64 in the difference hash


class FaceAnalyzer:
    """Loads the detectors once per process (thread-safe) and measures faces."""

    _lock = threading.Lock()
    _instance: FaceAnalyzer | None = None

    def __init__(self) -> None:
        import cv2
        import dlib

        self._cv2 = cv2
        self._dlib = dlib
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        self._confirm = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")
        models = Path(importlib.util.find_spec("face_recognition_models").origin).parent / "models"
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat")
        )
        self._dlib_lock = threading.Lock()

    @classmethod
    def shared(cls) -> FaceAnalyzer:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def faces(self, gray: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Faces found by the default cascade and confirmed by the stricter alt2 one (fewer false hits)."""
        min_side = max(40, min(gray.shape[:2]) // 12)
        args = {"scaleFactor": 1.1, "minNeighbors": 5, "minSize": (min_side, min_side)}
        found = [tuple(int(v) for v in box) for box in self._cascade.detectMultiScale(gray, **args)]
        confirm = [tuple(int(v) for v in box) for box in self._confirm.detectMultiScale(gray, **args)]
        return [box for box in found if any(_iou(box, other) >= 0.3 for other in confirm)]

    def embedding(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        x, y, w, h = box
        rect = self._dlib.rectangle(x, y, x + w, y + h)
        with self._dlib_lock:  # dlib's models are not documented as thread-safe
            shape = self._shape(rgb, rect)
            return np.asarray(self._encoder.compute_face_descriptor(rgb, shape), dtype=np.float64)

    def sharpness(self, gray: np.ndarray, box: tuple[int, int, int, int] | None) -> float:
        """Variance of the Laplacian: of the whole photo at 512 px, and of the face at 256 px; the higher."""
        cv2 = self._cv2
        h, w = gray.shape[:2]
        whole = cv2.resize(gray, (512, max(1, round(512 * h / w))), interpolation=cv2.INTER_AREA)
        score = float(cv2.Laplacian(whole, cv2.CV_64F).var())
        if box is not None:
            x, y, bw, bh = box
            face = cv2.resize(gray[y : y + bh, x : x + bw], (256, 256), interpolation=cv2.INTER_AREA)
            score = max(score, float(cv2.Laplacian(face, cv2.CV_64F).var()))
        return score


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter) if inter else 0.0


def dhash(image: Image.Image) -> int:
    """64-bit difference hash: near-identical pictures differ in only a few bits."""
    small = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def measure_photo(path: Path, analyzer: FaceAnalyzer) -> dict[str, Any]:
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    scale = min(1.0, WORK_SIDE / max(width, height))
    work = image.resize((max(1, round(width * scale)), max(1, round(height * scale)))) if scale < 1 else image
    rgb = np.asarray(work)
    gray = analyzer._cv2.cvtColor(rgb, analyzer._cv2.COLOR_RGB2GRAY)
    faces = analyzer.faces(gray)
    largest = max(faces, key=lambda b: b[2] * b[3]) if faces else None
    metrics: dict[str, Any] = {
        "width": width,
        "height": height,
        "faces": len(faces),
        "face_box": [round(v / scale) for v in largest] if largest else None,
        "face_frac": round(largest[2] * largest[3] / (rgb.shape[0] * rgb.shape[1]), 4) if largest else None,
        "sharpness": round(analyzer.sharpness(gray, largest), 1),
        "dhash": f"{dhash(image):016x}",
        "embedding": None,
    }
    if largest is not None:
        metrics["embedding"] = [
            round(float(v), 5) for v in analyzer.embedding(np.ascontiguousarray(rgb), largest)
        ]
    return metrics


def set_level(photos: list[tuple[int, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Near-duplicates and identity for a character's photos: {photo_id: {...}}. Identity uses the same
    reference as the likeness evaluation: each photo against the others, flagged below the same-person
    mark or far below the set's own typical score (`isengard/evaluation/calibration.py`)."""
    from isengard.evaluation.likeness import reference_identity

    out: dict[int, dict[str, Any]] = {
        pid: {
            "near_duplicate_of": None,
            "identity_distance": None,
            "likeness_to_others": None,
            "odd_one_out": None,
        }
        for pid, _ in photos
    }
    hashes = [(pid, int(m["dhash"], 16)) for pid, m in photos if m.get("dhash")]
    for i, (pid, h) in enumerate(hashes):
        for earlier_pid, earlier in hashes[:i]:
            if hamming(h, earlier) <= NEAR_DUPLICATE_BITS:
                out[pid]["near_duplicate_of"] = earlier_pid
                break
    embedded = [(pid, np.asarray(m["embedding"])) for pid, m in photos if m.get("embedding")]
    if len(embedded) >= 3:
        reference = reference_identity([e for _, e in embedded], DLIB_SAME_PERSON)
        odd = {embedded[o.index][0]: o for o in reference.odd_ones()}
        for (pid, emb), score in zip(embedded, reference.leave_one_out, strict=True):
            out[pid]["identity_distance"] = round(float(np.linalg.norm(emb - reference.centre)), 3)
            out[pid]["likeness_to_others"] = None if score is None else round(score, 1)
            out[pid]["odd_one_out"] = odd[pid].sentence if pid in odd else None
    return out
