"""Checking an uploaded photo before it is stored: a real image, not too big, not too small, upright.

Nothing is trusted from the file name or extension: the bytes are decoded.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from isengard.errors import InputError

FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
MAX_FILE_MB = 30
MAX_MEGAPIXELS = 50
MIN_SIDE = 256
EXIF_ORIENTATION = 0x0112


@dataclass
class CheckedPhoto:
    sha256: str
    data: bytes
    ext: str
    width: int
    height: int
    format: str
    original_name: str
    rotated: bool


def display_name(raw: str | None) -> str:
    """The original file name as shown to people: its last path part only, never used as a path."""
    name = (raw or "").replace("\\", "/").split("/")[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:120] or "unnamed"


def check_photo(path: Path, original_name: str | None = None) -> CheckedPhoto:
    """Decode and validate one upload; raise InputError with the reason a person can act on."""
    name = display_name(original_name or Path(path).name)
    try:
        size = Path(path).stat().st_size
    except OSError:
        raise InputError("the file could not be read") from None
    if size == 0:
        raise InputError("the file is empty (0 bytes)")
    if size > MAX_FILE_MB * 1024 * 1024:
        raise InputError(f"the file is {size / 1024 / 1024:.0f} MB; the limit is {MAX_FILE_MB} MB")
    raw = Path(path).read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw))
        except Image.DecompressionBombError as exc:
            match = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(match.group(1)) / 1e6:.0f} megapixels" if match else "enormous"
            raise InputError(f"the image is {size}; the limit is {MAX_MEGAPIXELS} megapixels") from None
        except (UnidentifiedImageError, OSError):
            raise InputError("this is not an image Isengard can read (use JPEG, PNG or WebP)") from None
        fmt = image.format or "?"
        if getattr(image, "is_animated", False) and getattr(image, "n_frames", 1) > 1:
            raise InputError(f"animated images ({fmt}) are not supported; use a still photo")
        if fmt not in FORMATS:
            raise InputError(f"{fmt} images are not supported; use JPEG, PNG or WebP")
        width, height = image.size
        megapixels = width * height / 1e6
        if megapixels > MAX_MEGAPIXELS:
            raise InputError(
                f"the image is {width}×{height} ({megapixels:.0f} megapixels); "
                f"the limit is {MAX_MEGAPIXELS} megapixels"
            )
        try:
            image.load()
        except (OSError, SyntaxError, ValueError):
            raise InputError(
                "the file is damaged or incomplete (it may have been cut off while copying)"
            ) from None
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"the photo is only {width}×{height} pixels; use at least {MIN_SIDE} on the short side"
        )
    orientation = image.getexif().get(EXIF_ORIENTATION, 1) if fmt in ("JPEG", "WEBP", "PNG") else 1
    data, rotated = raw, False
    if orientation not in (None, 1):
        upright = ImageOps.exif_transpose(image)
        buffer = io.BytesIO()
        save_args = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
        if image.info.get("icc_profile"):
            save_args["icc_profile"] = image.info["icc_profile"]
        upright.save(buffer, format=fmt, **save_args)
        data, rotated = buffer.getvalue(), True
        width, height = upright.size
    return CheckedPhoto(
        sha256=hashlib.sha256(raw).hexdigest(),
        data=data,
        ext=FORMATS[fmt],
        width=width,
        height=height,
        format=fmt,
        original_name=name,
        rotated=rotated,
    )
