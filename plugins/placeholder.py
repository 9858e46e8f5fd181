"""Placeholder pictures for the fast-test plugins: deterministic, labelled, obviously not real output."""

from __future__ import annotations

import hashlib
import random

from PIL import Image, ImageDraw


def placeholder_image(width: int, height: int, seed: int, lines: list[str]) -> Image.Image:
    """A seeded two-colour gradient with some shapes and the given caption lines."""
    digest = hashlib.sha256(f"{seed}|{'|'.join(lines)}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    top = tuple(rng.randint(30, 220) for _ in range(3))
    bottom = tuple(rng.randint(30, 220) for _ in range(3))
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(1, height - 1)
        column.putpixel((0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    image = column.resize((width, height))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(max(4, width // 20), max(8, width // 5))
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), outline=fill, width=max(1, width // 128))
    y = 8
    for line in ["PLACEHOLDER (fast-test mode)", *lines]:
        draw.rectangle((6, y - 2, 10 + 7 * len(line[:60]), y + 12), fill=(0, 0, 0))
        draw.text((8, y), line[:60], fill=(255, 255, 255))
        y += 16
    return image
