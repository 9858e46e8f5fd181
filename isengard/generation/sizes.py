"""Aspect-ratio presets at a model's native resolution (about the same pixel count as its square)."""

from __future__ import annotations

import math

from plugins.families import family_info

ASPECTS: dict[str, tuple[int, int]] = {
    "1:1 square": (1, 1),
    "4:5 portrait": (4, 5),
    "3:4 portrait": (3, 4),
    "2:3 portrait": (2, 3),
    "9:16 tall": (9, 16),
    "16:9 wide": (16, 9),
}


def aspect_size(resolution: int, aspect: str, family_factor: int = 8) -> tuple[int, int]:
    """Width and height for `aspect` with about resolution² pixels, on a grid the model likes."""
    aw, ah = ASPECTS[aspect]
    grid = 64 if resolution >= 512 else family_factor
    width = math.sqrt(resolution * resolution * aw / ah)
    height = resolution * resolution / width
    return max(grid, round(width / grid) * grid), max(grid, round(height / grid) * grid)


def family_factor(family: str) -> int:
    return family_info(family).size_multiple
