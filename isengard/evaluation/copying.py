"""Two signs of over-training that a likeness number alone hides.

* Copying: a probe that reproduces one training photo — its composition and background, not just the
  face. Compared on a 32×32 grey thumbnail (normalised correlation) and a 64-bit difference hash, so a
  resized or recompressed copy is still caught while the same person in a new scene is not.
* Collapse: every probe, whatever the prompt, giving nearly the same face (pose and expression frozen):
  the probes' identity embeddings barely spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

COPY_CORRELATION = 0.92  # thumbnails this alike are the same picture
COPY_HASH_BITS = 6  # or hashes this close (of 64 bits)
COLLAPSE_SPREAD = 0.08  # mean pairwise distance below this: one face for every prompt (dlib scale)


@dataclass
class Thumbprint:
    grey: np.ndarray  # 32×32, zero mean, unit norm
    dhash: int


def thumbprint(path: Path) -> Thumbprint:
    from PIL import Image, ImageOps

    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("L")
    grey = np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float64).ravel()
    grey -= grey.mean()
    norm = np.linalg.norm(grey)
    small = np.asarray(image.resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return Thumbprint(grey / norm if norm else grey, int("".join("1" if b else "0" for b in bits), 2))


def copied_photo(probe: Thumbprint, photos: list[Thumbprint]) -> int | None:
    """The index of the training photo the probe is a near-copy of, or None."""
    for index, photo in enumerate(photos):
        correlation = float(probe.grey @ photo.grey)
        if correlation >= COPY_CORRELATION or bin(probe.dhash ^ photo.dhash).count("1") <= COPY_HASH_BITS:
            return index
    return None


def collapse_spread(embeddings: list[np.ndarray]) -> float | None:
    """Mean pairwise distance of the probes' faces (None with fewer than two faces)."""
    if len(embeddings) < 2:
        return None
    return float(np.mean([np.linalg.norm(a - b) for a, b in combinations(embeddings, 2)]))


def is_collapsed(embeddings: list[np.ndarray], minimum_faces: int = 3) -> bool:
    spread = collapse_spread(embeddings)
    return spread is not None and len(embeddings) >= minimum_faces and spread < COLLAPSE_SPREAD
