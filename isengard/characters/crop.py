"""Auto-crop: a square (or other aspect) window around the detected face, head and shoulders included."""

from __future__ import annotations


def face_crop_box(
    width: int, height: int, face: tuple[int, int, int, int], *, aspect: float = 1.0, margin: float = 2.4
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a crop with the face a little above centre, inside the image."""
    x, y, w, h = face
    cx, cy = x + w / 2, y + h / 2 + 0.15 * h
    crop_w = max(w, h) * margin
    crop_h = crop_w / aspect
    scale = min(1.0, width / crop_w, height / crop_h)
    crop_w, crop_h = crop_w * scale, crop_h * scale
    left = min(max(0.0, cx - crop_w / 2), width - crop_w)
    top = min(max(0.0, cy - crop_h / 2), height - crop_h)
    return round(left), round(top), round(left + crop_w), round(top + crop_h)
