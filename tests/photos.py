"""Real photos without a download (scikit-image and matplotlib ship them) and every kind of bad file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def grace_hopper() -> Image.Image:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return Image.open(io.BytesIO(handle.read())).convert("RGB")


def cat() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea()).resize((902, 600))


def good_set(folder: Path) -> list[Path]:
    """Four different pictures of the same person (the astronaut) and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    a = astronaut()
    variants = {
        "portrait.jpg": a,
        "mirrored.jpg": a.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "closer.png": a.crop((60, 0, 452, 392)).resize((600, 600)),
        "warmer.webp": Image.fromarray(np.clip(np.asarray(a) * [1.1, 1.0, 0.85], 0, 255).astype("uint8")),
    }
    paths = []
    for name, image in variants.items():
        path = folder / name
        image.save(path, quality=95)
        paths.append(path)
    return paths


def bad_files(folder: Path) -> dict[str, Path]:
    """Each bad input the characters issue lists, by what is wrong with it."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    text = folder / "notes.jpg"
    text.write_text("this is a text file, not a photo")
    files["text_as_jpg"] = text
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    files["zero_bytes"] = empty
    buffer = io.BytesIO()
    astronaut().save(buffer, format="JPEG", quality=90)
    truncated = folder / "cut_off.jpg"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    files["truncated"] = truncated
    tiny = folder / "pixel.png"
    Image.new("RGB", (1, 1), (255, 0, 0)).save(tiny)
    files["one_pixel"] = tiny
    huge = folder / "huge.png"
    Image.new("1", (20000, 20000), 0).save(huge, optimize=False)
    files["huge"] = huge
    gif = folder / "animated.gif"
    frames = [Image.new("RGB", (300, 300), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["animated_gif"] = gif
    return files


def exif_rotated(path: Path) -> Path:
    """The astronaut stored sideways with EXIF orientation 6 ("rotate 90° clockwise to view")."""
    sideways = astronaut().crop((0, 0, 512, 400)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(path, format="JPEG", quality=95, exif=exif.tobytes())
    return path


def blurred(path: Path) -> Path:
    astronaut().filter(ImageFilter.GaussianBlur(3)).save(path, quality=95)
    return path
