"""Checking an uploaded photo before it is stored: a real image, not too big, not too small, upright.

Nothing is trusted from the file name or extension: the bytes are decoded. Photos as phones and cameras
write them are normalised to what the trainer reads, 8-bit RGB in sRGB: the primary picture of a
multi-picture JPEG (MPO, gain-map "HDR" photos), 16-bit, grayscale, palette, transparent (flattened on
white), CMYK and wide-gamut photos (converted with their colour profile). A plain 8-bit sRGB photo is
kept byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from isengard.errors import InputError

FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "MPO": ".jpg"}
MAX_FILE_MB = 50
MAX_MEGAPIXELS = 50
MIN_SIDE = 256
MAX_ASPECT = 4.0  # a panorama is about 3:1; a thinner strip is no photo of a person
EXIF_ORIENTATION = 0x0112
# PNG chunks that carry pixels or how to read them; everything else (text, EXIF, profiles) is optional.
_PNG_PIXEL_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"acTL", b"fcTL", b"fdAT", b"sBIT"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")


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
    converted: str | None = None  # what normalisation did, in words (None: kept as uploaded)


def display_name(raw: str | None) -> str:
    """The original file name as shown to people: its last path part only, never used as a path."""
    name = (raw or "").replace("\\", "/").split("/")[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:120] or "unnamed"


def strip_png_metadata(raw: bytes) -> bytes | None:
    """The PNG with only its pixel chunks (for files whose text or profile chunks are too big to read)."""
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    out, pos = [raw[:8]], 8
    while pos + 12 <= len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind = raw[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(raw):
            return None
        if kind in _PNG_PIXEL_CHUNKS:
            out.append(raw[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _open(raw: bytes) -> tuple[Image.Image, bytes]:
    """The opened image and the bytes it was opened from (the PNG without its metadata, when that was too big)."""
    try:
        return Image.open(io.BytesIO(raw)), raw
    except Image.DecompressionBombError as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(match.group(1)) / 1e6:.0f} megapixels" if match else "enormous"
        raise InputError(f"the image is {size}; the limit is {MAX_MEGAPIXELS} megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, struct.error):
        if raw[4:8] == b"ftyp" and raw[8:12] in _HEIF_BRANDS:
            raise InputError(
                "this is a HEIC/AVIF photo (the iPhone's default), which Isengard can't read yet; export it "
                "as JPEG (on an iPhone: Settings → Camera → Formats → Most Compatible)"
            ) from None
        raise InputError("this is not an image Isengard can read (use JPEG, PNG or WebP)") from None
    except ValueError:  # e.g. a PNG text chunk too large to decompress: read the pixels without it
        stripped = strip_png_metadata(raw)
        if stripped is None or stripped == raw:
            raise InputError("the file's extra information is damaged or far too large") from None
        return _open(stripped)


def _load(image: Image.Image, raw: bytes) -> tuple[Image.Image, bytes]:
    try:
        image.load()
        return image, raw
    except ValueError:
        stripped = strip_png_metadata(raw)
        if stripped is not None and stripped != raw:
            retry, used = _open(stripped)
            return _load(retry, used)
        raise InputError("the file's extra information is damaged or far too large") from None
    except (OSError, SyntaxError, struct.error):
        raise InputError(
            "the file is damaged or incomplete (it may have been cut off while copying)"
        ) from None


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
    except Exception:  # odd EXIF: treat as upright rather than refuse the photo
        return 1


def to_rgb8(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """8-bit sRGB pixels that look like the photo, and what had to change (in words)."""
    done: list[str] = []
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        high = float(values.max(initial=0.0))
        # 16-bit photos span 0–65535; a 32-bit or float image is scaled by its own brightest pixel
        peak = 65535.0 if mode.startswith("I;16") or (mode == "I" and high > 255) else max(255.0, high)
        gray = np.clip(np.round(values * 255.0 / peak), 0, 255).astype(np.uint8)
        image = Image.fromarray(gray, "L")
        done.append("16-bit photo reduced to 8 bits")
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba).convert("RGB")
            done.append("transparent parts filled with white")
        else:
            image = rgba.convert("RGB")
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "CMYK", "L"):
        converted = _to_srgb(image, profile)
        if converted is not None:
            image = converted
            done.append("colours converted to sRGB")
    if image.mode != "RGB":
        if image.mode == "CMYK":
            done.append("CMYK photo converted to RGB")
        image = image.convert("RGB")
    return image, done


def _to_srgb(image: Image.Image, profile: bytes) -> Image.Image | None:
    """Convert with the embedded profile; None when it already is sRGB or the profile is unusable."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        description = (ImageCms.getProfileDescription(source) or "").lower()
        if image.mode == "RGB" and "srgb" in description:
            return None
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
    except Exception:  # a damaged profile: the plain conversion is the best we can do
        return None


def check_photo(path: Path, original_name: str | None = None, *, max_mb: int = MAX_FILE_MB) -> CheckedPhoto:
    """Decode and validate one upload; raise InputError with the reason a person can act on."""
    name = display_name(original_name or Path(path).name)
    try:
        size = Path(path).stat().st_size
    except OSError:
        raise InputError("the file could not be read") from None
    if size == 0:
        raise InputError("the file is empty (0 bytes)")
    if size > max_mb * 1024 * 1024:
        raise InputError(f"the file is {size / 1024 / 1024:.0f} MB; the limit is {max_mb} MB")
    try:
        raw = Path(path).read_bytes()
    except OSError:
        raise InputError("the file could not be read") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image, used = _open(raw)
        fmt = image.format or "?"
        if fmt != "MPO" and getattr(image, "is_animated", False) and getattr(image, "n_frames", 1) > 1:
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
        if fmt == "MPO":
            image.seek(0)  # the primary picture; the others are depth maps, gain maps or previews
        image, used = _load(image, used)
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"the photo is only {width}×{height} pixels; use at least {MIN_SIDE} on the short side"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputError(
            f"the picture is {width}×{height}, a strip {max(width, height) / min(width, height):.0f} times "
            f"longer than it is wide; crop it to the person (at most {MAX_ASPECT:.0f}:1)"
        )
    if _fully_transparent(image):
        raise InputError("the picture is fully transparent: there is nothing in it")
    orientation = _exif_orientation(image)
    pixels, changes = to_rgb8(image)
    rotated = orientation not in (None, 1)
    if rotated:
        pixels = _upright(pixels, orientation)
    if fmt == "MPO":
        changes.insert(0, "the main picture of a multi-picture photo")
    if used is not raw:
        changes.append("oversized extra information left out")
    keep_bytes = not rotated and not changes and image.mode == "RGB"
    if keep_bytes:
        data, out_fmt = raw, fmt
    else:
        out_fmt = "JPEG" if fmt in ("JPEG", "MPO") else "PNG"
        data = _encode(pixels, out_fmt)
        width, height = Image.open(io.BytesIO(data)).size
    return CheckedPhoto(
        sha256=hashlib.sha256(raw).hexdigest(),
        data=data,
        ext=FORMATS[out_fmt],
        width=width,
        height=height,
        format=out_fmt,
        original_name=name,
        rotated=rotated,
        converted=", ".join(changes) or None,
    )


def _fully_transparent(image: Image.Image) -> bool:
    if image.mode not in ("RGBA", "LA", "La", "RGBa", "PA") and not (
        image.mode == "P" and "transparency" in image.info
    ):
        return False
    return image.convert("RGBA").getextrema()[3][1] == 0


def _upright(pixels: Image.Image, orientation: int) -> Image.Image:
    """Apply an EXIF orientation to converted pixels (which no longer carry the EXIF)."""
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return pixels.transpose(method) if method is not None else pixels


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=95, subsampling=0)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()
