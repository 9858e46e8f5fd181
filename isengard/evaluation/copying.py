"""Two signs of over-training that a likeness number alone hides.

* Copying: a probe that reproduces one training photo. A LoRA that memorised a photo gives it back
  re-framed (the probes are square, most photos are not), mirrored, lighter or softer, so two comparisons
  are made against every training photo:
  - the face aligned by its eyes (same eye positions, same scale, upright), with its surroundings, as a
    grey patch — compared by normalised correlation, mirrored too — together with an identity distance far
    below the person's own photo-to-photo spread (the marks: `calibration.py`);
  - for pictures without a face, the whole picture as a 32×32 grey thumbnail (normalised correlation) and
    a 64-bit difference hash, so a resized or recompressed copy is still caught.
* Collapse: every probe, whatever the prompt, giving nearly the same face (pose and expression frozen):
  the probes' identity embeddings spread no more than edits of one picture do.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from isengard.evaluation.calibration import (
    COLLAPSE_MIN_FACES,
    COLLAPSE_SPREAD,
    COPY_APPEARANCE,
    COPY_DISTANCE,
)

COPY_CORRELATION = 0.92  # whole-picture thumbnails this alike are the same picture
COPY_HASH_BITS = 6  # or hashes this close (of 64 bits)
# the aligned patch: 48 px wide, 3.5 eye distances across and 4 tall, the eyes 40 % down
PATCH_WIDTH, PATCH_HEIGHT = 48, 55
PATCH_SPAN = 3.5  # eye distances across the patch
EYES_DOWN = 0.4
MIN_OVERLAP = 0.5  # patches must share this much of their area inside both pictures


@dataclass
class AlignedFace:
    grey: np.ndarray  # PATCH_HEIGHT × PATCH_WIDTH, the picture's grey values
    inside: np.ndarray  # where the patch lies inside the picture

    def mirrored(self) -> AlignedFace:
        return AlignedFace(self.grey[:, ::-1], self.inside[:, ::-1])


@dataclass
class Thumbprint:
    grey: np.ndarray  # 32×32, zero mean, unit norm
    dhash: int
    face: AlignedFace | None = None
    embedding: np.ndarray | None = None


def thumbprint(path: Path, reading=None) -> Thumbprint:
    """The picture's prints; with a face reading (`FaceReading`) that has eyes, its aligned face too."""
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("L")
    grey = np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float64).ravel()
    grey -= grey.mean()
    norm = np.linalg.norm(grey)
    small = np.asarray(image.resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    face = embedding = None
    if reading is not None and getattr(reading, "found", False) and getattr(reading, "eyes", None):
        face = aligned_face(image, reading.eyes)
        embedding = None if reading.embedding is None else np.asarray(reading.embedding)
    return Thumbprint(
        grey / norm if norm else grey, int("".join("1" if b else "0" for b in bits), 2), face, embedding
    )


def aligned_face(grey_image, eyes) -> AlignedFace:
    """The face and its surroundings resampled so the eyes sit level at fixed places (a similarity
    transform: any crop, scale or turn of the picture gives the same patch)."""
    from PIL import Image

    (lx, ly), (rx, ry) = eyes
    distance = max(1e-3, float(np.hypot(rx - lx, ry - ly)))
    cos, sin = (rx - lx) / distance, (ry - ly) / distance
    scale = PATCH_SPAN * distance / PATCH_WIDTH  # picture pixels per patch pixel
    u0, v0 = PATCH_WIDTH / 2, PATCH_HEIGHT * EYES_DOWN
    cx, cy = (lx + rx) / 2, (ly + ry) / 2
    # patch (u, v) → picture (x, y) = centre + scale · R · (u − u0, v − v0)
    matrix = (
        scale * cos, -scale * sin, cx - scale * (cos * u0 - sin * v0),
        scale * sin, scale * cos, cy - scale * (sin * u0 + cos * v0),
    )  # fmt: skip
    size = (PATCH_WIDTH, PATCH_HEIGHT)
    patch = grey_image.transform(size, Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR, fillcolor=0)
    mask = Image.new("L", grey_image.size, 255).transform(
        size, Image.Transform.AFFINE, matrix, Image.Resampling.NEAREST, fillcolor=0
    )
    return AlignedFace(np.asarray(patch, dtype=np.float64), np.asarray(mask) > 0)


def face_correlation(a: AlignedFace, b: AlignedFace) -> float:
    """Normalised correlation of two aligned patches over the area both pictures cover (0 when they share
    too little of it); the better of b and b mirrored."""

    def one(x: AlignedFace, y: AlignedFace) -> float:
        both = x.inside & y.inside
        if both.mean() < MIN_OVERLAP:
            return 0.0
        p, q = x.grey[both], y.grey[both]
        p, q = p - p.mean(), q - q.mean()
        norm = float(np.linalg.norm(p) * np.linalg.norm(q))
        return float(p @ q / norm) if norm else 0.0

    return max(one(a, b), one(a, b.mirrored()))


def copied_photo(probe: Thumbprint, photos: list[Thumbprint], same_person: float = 0.6) -> int | None:
    """The index of the training photo the probe is a copy of (re-framed, mirrored or re-encoded), or
    None."""
    for index, photo in enumerate(photos):
        if is_copy(probe, photo, same_person):
            return index
    return None


def is_copy(probe: Thumbprint, photo: Thumbprint, same_person: float = 0.6) -> bool:
    if float(probe.grey @ photo.grey) >= COPY_CORRELATION:
        return True
    if bin(probe.dhash ^ photo.dhash).count("1") <= COPY_HASH_BITS:
        return True
    if probe.face is None or photo.face is None or probe.embedding is None or photo.embedding is None:
        return False
    if float(np.linalg.norm(probe.embedding - photo.embedding)) >= COPY_DISTANCE * same_person:
        return False
    return face_correlation(probe.face, photo.face) >= COPY_APPEARANCE


def collapse_spread(embeddings: list[np.ndarray]) -> float | None:
    """Mean pairwise distance of the probes' faces (None with fewer than two faces)."""
    if len(embeddings) < 2:
        return None
    return float(np.mean([np.linalg.norm(a - b) for a, b in combinations(embeddings, 2)]))


def is_collapsed(embeddings: list[np.ndarray], same_person: float = 0.6) -> bool:
    """At least three faces that spread no more than edits of one picture do."""
    spread = collapse_spread(embeddings)
    return (
        spread is not None
        and len(embeddings) >= COLLAPSE_MIN_FACES
        and spread < COLLAPSE_SPREAD * same_person
    )
