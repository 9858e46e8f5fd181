"""A corpus of photos as phones, cameras and careless copies produce them, built in the test (no downloads).

Each entry says what must happen: ("ok", reference) — stored as 8-bit RGB that looks like `reference`
(None: only that it is stored) — or ("refused", words the reason contains).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from tests import photos

W, H = 320, 288


def _gradient() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([x * 255 // W, y * 255 // H, (x + y) * 255 // (W + H)], axis=-1).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png16_rgb(rgb8: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one; phones and RAW converters do)."""
    h, w, _ = rgb8.shape
    wide = (rgb8.astype(np.uint16) * 257).astype(">u2")
    raw = b"".join(b"\x00" + wide[row].tobytes() for row in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def build(folder: Path) -> dict[str, tuple[Path, tuple[str, object]]]:
    folder.mkdir(parents=True, exist_ok=True)
    grad = _gradient()
    rgb = Image.fromarray(grad, "RGB")
    gray = rgb.convert("L")
    out: dict[str, tuple[Path, tuple[str, object]]] = {}

    def save(name: str, expect, writer) -> None:
        path = folder / name
        data = writer()
        if isinstance(data, bytes):
            path.write_bytes(data)
        out[name] = (path, expect)

    def pil(image: Image.Image, fmt: str, **kw):
        def write():
            buffer = io.BytesIO()
            image.save(buffer, format=fmt, **kw)
            return buffer.getvalue()

        return write

    # stored, looking like the photo -------------------------------------------------------------
    save("plain.jpg", ("ok", rgb), pil(rgb, "JPEG", quality=95))
    save("plain.png", ("ok", rgb), pil(rgb, "PNG"))
    save("plain.webp", ("ok", rgb), pil(rgb, "WEBP", quality=95))
    second = Image.fromarray(255 - grad, "RGB")
    save("phone-mpo.jpg", ("ok", rgb), pil(rgb, "MPO", save_all=True, append_images=[second], quality=95))
    save("gain-map-hdr.jpg", ("ok", rgb), pil(rgb, "MPO", save_all=True, append_images=[gray.convert("RGB")]))
    save(
        "sixteen-bit-gray.png",
        ("ok", gray.convert("RGB")),
        pil(Image.fromarray(np.asarray(gray).astype(np.uint16) * 257), "PNG"),
    )
    save("sixteen-bit-rgb.png", ("ok", rgb), lambda: png16_rgb(grad))
    save("gray.jpg", ("ok", gray.convert("RGB")), pil(gray, "JPEG", quality=95))
    save("gray.png", ("ok", gray.convert("RGB")), pil(gray, "PNG"))
    bw = gray.point(lambda v: 255 if v > 127 else 0).convert("1")
    save("one-bit.png", ("ok", bw.convert("RGB")), pil(bw, "PNG"))
    palette = rgb.quantize(64)
    save("palette.png", ("ok", palette.convert("RGB")), pil(palette, "PNG"))
    rgba = rgb.convert("RGBA")
    alpha = np.asarray(rgba).copy()
    alpha[:, : W // 2, 3] = 0  # the left half transparent
    rgba = Image.fromarray(alpha, "RGBA")
    on_white = np.asarray(rgb).copy()
    on_white[:, : W // 2] = 255
    save("transparent.png", ("ok", Image.fromarray(on_white)), pil(rgba, "PNG"))
    save("transparent.webp", ("ok", Image.fromarray(on_white)), pil(rgba, "WEBP", lossless=True))
    pal_t = rgba.quantize(64, method=Image.Quantize.FASTOCTREE)
    save("palette-transparent.png", ("ok", None), pil(pal_t, "PNG"))
    la = Image.merge("LA", (gray, Image.fromarray(alpha[:, :, 3])))
    save("gray-alpha.png", ("ok", None), pil(la, "PNG"))
    cmyk = rgb.convert("CMYK")
    save("print-cmyk.jpg", ("ok", cmyk.convert("RGB")), pil(cmyk, "JPEG", quality=95))
    from PIL import ImageCms

    srgb_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    save("with-srgb-profile.jpg", ("ok", rgb), pil(rgb, "JPEG", quality=95, icc_profile=srgb_icc))
    big_text = PngImagePlugin.PngInfo()
    big_text.add_text("comment", "x" * (2 * 1024 * 1024), zip=True)  # 2 MB of text: past Pillow's limit
    save("huge-text-chunk.png", ("ok", rgb), pil(rgb, "PNG", pnginfo=big_text))
    many = PngImagePlugin.PngInfo()
    for i in range(300):
        many.add_itxt(f"key{i}", "ü" * 2000)
    save("many-text-chunks.png", ("ok", rgb), pil(rgb, "PNG", pnginfo=many))
    exif = Image.Exif()
    exif[0x010E] = "d" * 60000  # ImageDescription, near the largest a JPEG segment holds
    save("huge-exif.jpg", ("ok", rgb), pil(rgb, "JPEG", quality=95, exif=exif.tobytes()))
    rot = Image.Exif()
    rot[0x0112] = 3
    save("upside-down.jpg", ("ok", rgb), pil(rgb.rotate(180), "JPEG", quality=95, exif=rot.tobytes()))
    save("sideways.jpg", ("ok", None), lambda: photos.exif_rotated(folder / "sideways.jpg").read_bytes())
    save("garbage-after-end.jpg", ("ok", rgb), lambda: pil(rgb, "JPEG", quality=95)() + b"\x00junk" * 100)
    save("Zoë 写真 😀.jpg", ("ok", rgb), pil(rgb, "JPEG", quality=90))

    # refused, with a reason ---------------------------------------------------------------------
    save("truncated.jpg", ("refused", "damaged or incomplete"), lambda: pil(rgb, "JPEG")()[:3000])
    save("empty.jpg", ("refused", "empty (0 bytes)"), lambda: b"")
    save("notes.jpg", ("refused", "not an image"), lambda: b"these are my notes, not a photo\n" * 50)
    save(
        "iphone.heic",
        ("refused", "HEIC"),
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 500,
    )
    frames = [Image.new("RGB", (300, 300), c) for c in ("red", "blue")]
    save(
        "animated.gif",
        ("refused", "animated"),
        pil(frames[0], "GIF", save_all=True, append_images=frames[1:]),
    )
    save("still.gif", ("refused", "GIF images are not supported"), pil(rgb, "GIF"))
    save("scan.bmp", ("refused", "BMP images are not supported"), pil(rgb, "BMP"))
    save("scan.tiff", ("refused", "TIFF images are not supported"), pil(rgb, "TIFF"))
    save("pixel.png", ("refused", "only 1×1 pixels"), pil(Image.new("RGB", (1, 1)), "PNG"))
    save("thumbnail.jpg", ("refused", "use at least 256"), pil(rgb.resize((120, 100)), "JPEG"))
    save("bomb.png", ("refused", "megapixels"), lambda: photos.bad_files(folder / "bad")["huge"].read_bytes())
    save("bad-crc.png", ("refused", ""), lambda: _bad_crc(pil(rgb, "PNG")()))
    return out


def _bad_crc(data: bytes) -> bytes:
    broken = bytearray(data)
    idat = broken.find(b"IDAT")
    broken[idat + 10 : idat + 40] = b"\x00" * 30  # damaged pixel data
    return bytes(broken)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB").resize((64, 64)), dtype=np.float64)
    y = np.asarray(b.convert("RGB").resize((64, 64)), dtype=np.float64)
    return float(np.abs(x - y).mean())
