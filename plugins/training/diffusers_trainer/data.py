"""Training data: photos resized into aspect-ratio buckets, as tensors in [-1, 1]."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

ASPECTS = (1.0, 4 / 5, 5 / 4, 3 / 4, 4 / 3, 2 / 3, 3 / 2, 9 / 16, 16 / 9)


@dataclass
class Prepared:
    index: int
    caption: str
    pixels: object  # torch tensor (3, H, W) in [-1, 1]
    bucket: tuple[int, int]  # (width, height)
    original_size: tuple[int, int]  # (height, width) before resizing, for SDXL's time ids
    crop_top_left: tuple[int, int]


def bucket_sizes(resolution: int, grid: int) -> list[tuple[int, int]]:
    """(width, height) pairs with about resolution² pixels, multiples of `grid`, one per aspect ratio."""
    sizes = []
    for aspect in ASPECTS:
        width = round(math.sqrt(resolution * resolution * aspect) / grid) * grid
        height = round(resolution * resolution / max(width, grid) / grid) * grid
        size = (max(grid, width), max(grid, height))
        if size not in sizes:
            sizes.append(size)
    return sizes


def pick_bucket(width: int, height: int, buckets: list[tuple[int, int]]) -> tuple[int, int]:
    aspect = width / height
    return min(buckets, key=lambda b: abs(math.log((b[0] / b[1]) / aspect)))


def prepare(
    items: list[tuple[Path, str]], resolution: int, grid: int, *, use_buckets: bool = True
) -> list[Prepared]:
    import numpy as np
    import torch

    buckets = bucket_sizes(resolution, grid) if use_buckets else [(resolution, resolution)]
    prepared = []
    for index, (path, caption) in enumerate(items):
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        width, height = image.size
        bucket = pick_bucket(width, height, buckets)
        scale = max(bucket[0] / width, bucket[1] / height)
        resized = image.resize(
            (max(bucket[0], round(width * scale)), max(bucket[1], round(height * scale))),
            Image.Resampling.LANCZOS,
        )
        left = (resized.width - bucket[0]) // 2
        top = (resized.height - bucket[1]) // 2
        cropped = resized.crop((left, top, left + bucket[0], top + bucket[1]))
        array = np.asarray(cropped, dtype=np.float32) / 127.5 - 1.0
        pixels = torch.from_numpy(array).permute(2, 0, 1).contiguous()
        prepared.append(
            Prepared(
                index, caption, pixels, bucket, (height, width), (round(top / scale), round(left / scale))
            )
        )
    return prepared
