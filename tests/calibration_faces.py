"""The likeness marks' calibration data, measured on real faces the project ships: `python -m
tests.calibration_faces` re-measures and writes `tests/fixtures/faces/calibration.json`.

People: skimage's astronaut (Eileen Collins), matplotlib's Grace Hopper, and from `tests/fixtures/faces/`
three different photos of Barack Obama and one of Joe Biden (see the README there). For each photo, each
edit a re-framing copy could be (crops of 4–15 %, a square crop around the face, a mirror, JPEG, brightness,
half size, a 5° turn): the identity distance to the original and the aligned-face correlation. For every
pair of different photos the same two numbers. For each person, the spread of five edits of one picture
(collapse) and of the three Obama photos (honest variety).
"""

from __future__ import annotations

import io
import itertools
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

FACES = Path(__file__).parent / "fixtures" / "faces"
RECORD = FACES / "calibration.json"


def people() -> dict[str, Image.Image]:
    from tests.photos import astronaut, grace_hopper

    found = {"astronaut": astronaut(), "grace_hopper": grace_hopper()}
    for path in sorted(FACES.glob("*.jpg")):
        found[path.stem] = Image.open(path).convert("RGB")
    return found


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _crop(image: Image.Image, share: float, dx: float = 0.5, dy: float = 0.5) -> Image.Image:
    w, h = image.size
    cw, ch = w * (1 - share), h * (1 - share)
    x0, y0 = (w - cw) * dx, (h - ch) * dy
    return image.crop((int(x0), int(y0), int(x0 + cw), int(y0 + ch)))


def _square(image: Image.Image, eyes) -> Image.Image:
    (lx, ly), (rx, ry) = eyes
    d = rx - lx
    cx, cy, half = (lx + rx) / 2, (ly + ry) / 2 + 0.5 * d, 2.2 * d
    return image.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half))).resize((512, 512))


EDITS = {
    "crop 4 %": lambda im, eyes: _crop(im, 0.04),
    "crop 10 %": lambda im, eyes: _crop(im, 0.10),
    "crop 15 %": lambda im, eyes: _crop(im, 0.15),
    "crop 15 % off-centre": lambda im, eyes: _crop(im, 0.15, 0.2, 0.2),
    "square around the face": _square,
    "mirror": lambda im, eyes: ImageOps.mirror(im),
    "mirror + crop 10 %": lambda im, eyes: ImageOps.mirror(_crop(im, 0.10)),
    "JPEG 40": lambda im, eyes: _jpeg(im, 40),
    "darker 0.7": lambda im, eyes: ImageEnhance.Brightness(im).enhance(0.7),
    "lighter 1.3": lambda im, eyes: ImageEnhance.Brightness(im).enhance(1.3),
    "half size": lambda im, eyes: im.resize((im.width // 2, im.height // 2)),
    "turned 5°": lambda im, eyes: im.rotate(5, resample=Image.Resampling.BILINEAR),
}


def read(evaluator, image: Image.Image, folder: Path, name: str):
    from isengard.evaluation.copying import thumbprint

    path = folder / f"{name}.png"
    image.save(path)
    reading = evaluator.read_one(path)
    return reading, thumbprint(path, reading)


def measure(folder: Path, edits: dict | None = None) -> dict:
    """The calibration table (see the module docstring); pictures are written to `folder`."""
    from isengard.evaluation.copying import collapse_spread, face_correlation
    from plugins.evaluation.dlib_faces import DlibEvaluator

    evaluator = DlibEvaluator()
    edits = edits or EDITS
    folder.mkdir(parents=True, exist_ok=True)
    originals = {name: read(evaluator, image, folder, name) for name, image in people().items()}
    copies, spreads = [], {}
    for name, image in people().items():
        reading, prints = originals[name]
        embeddings = [reading.embedding]
        for edit, make in edits.items():
            edited, edited_prints = read(evaluator, make(image, reading.eyes), folder, f"{name} {edit}")
            if not edited.found:
                copies.append({"person": name, "edit": edit, "face": False})
                continue
            embeddings.append(edited.embedding)
            copies.append(
                {
                    "person": name,
                    "edit": edit,
                    "face": True,
                    "distance": round(float(np.linalg.norm(edited.embedding - reading.embedding)), 4),
                    "correlation": round(face_correlation(prints.face, edited_prints.face), 4),
                }
            )
        rng = random.Random(0)
        subsets = [rng.sample(embeddings, 5) for _ in range(100)] if len(embeddings) >= 5 else []
        spreads[name] = round(max((collapse_spread(s) for s in subsets), default=0.0), 4)
    pairs = []
    for (a, (ra, pa)), (b, (rb, pb)) in itertools.combinations(originals.items(), 2):
        same = a.split("_")[0] == b.split("_")[0]
        pairs.append(
            {
                "a": a,
                "b": b,
                "same_person": same,
                "distance": round(float(np.linalg.norm(ra.embedding - rb.embedding)), 4),
                "correlation": round(face_correlation(pa.face, pb.face), 4),
            }
        )
    obama = [originals[n][0].embedding for n in originals if n.startswith("obama")]
    return {
        "copies": copies,
        "different_photos": pairs,
        "collapse_spread_of_five_edits": spreads,
        "spread_of_different_photos_of_one_person": round(collapse_spread(obama), 4),
    }


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        table = measure(Path(tmp))
    RECORD.write_text(json.dumps(table, indent=1) + "\n")
    print(f"recorded {len(table['copies'])} edits and {len(table['different_photos'])} pairs in {RECORD}")


if __name__ == "__main__":
    main()
