"""Test doubles for the likeness flows (training-time scoring, the recommendation, stopping early, `evaluate`).

Honest probes are five *different* pictures of the person; edits of one picture are (rightly) flagged as
collapsed or copied, and five distinct real photos of one person cannot be shipped. So here the face model is
a double too: `ScriptedFaces` reads a picture's identity from the picture itself. Pixel (0, 1) marks a
scripted picture (any other picture has no face); pixel (0, 0) holds (kind, likeness, direction): kind 0
is "no face"; kind 1 a face whose identity lies at the distance that
gives `likeness` (0–100) from the character's centre, in its own `direction` (so different directions spread
as different photos do, one direction for all is a collapse). The rest of the picture is seeded noise, so
no two pictures look alike unless one is a copy of the other (then the whole-picture check catches it).

`ScriptedTrainer` (a mock trainer) draws, at each sample step, the probes its `rounds` script gives; a round
may also be `COPY`, a byte copy of the first training photo.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np

from plugins.base import Availability
from plugins.evaluation.interface import Evaluator, FaceReading
from plugins.image.mock import MockImageBackend
from plugins.training.mock import MockTrainer

DIMENSIONS = 16
CENTRE = np.full(DIMENSIONS, 0.1)
COPY = "copy"  # a round that returns the first training photo itself
NO_FACE = None
MARK = (7, 77, 177)  # pixel (0, 1) of every scripted picture
SAMPLE_NAME = re.compile(r"step(\d{6})_(\d+)")


def face(likeness: int, direction: int) -> tuple[int, int, int]:
    return (1, likeness, direction)


def honest(*scores: int) -> list:
    """A round of probes: one face per score, each in its own direction (variety); None: no face."""
    return [NO_FACE if s is None else face(s, i) for i, s in enumerate(scores)]


def collapsed(score: int, count: int = 5) -> list:
    return [face(score, 0)] * count


def write_picture(path: Path, spec, seed: int) -> Path:
    """A 256×256 PNG carrying `spec` (None = no face) in pixel (0, 0) and seeded noise elsewhere."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    pixels[0, 0] = (0, 0, 0) if spec is None else spec
    pixels[0, 1] = MARK
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def character_photos(folder: Path, count: int = 4) -> list[Path]:
    """The character's photos: faces close to the centre (likeness 90), each in its own direction."""
    return [write_picture(folder / f"photo{i}.png", face(90, 8 + i), seed=1000 + i) for i in range(count)]


class ScriptedFaces(Evaluator):
    """Test double of the face model: identities read from the pictures (see the module docstring)."""

    name = "scripted-faces"
    version = "1.0.0"
    label = "Scripted faces (test double)"
    same_person_distance: ClassVar[float] = 0.6

    def __init__(self, rounds: dict[int, list] | None = None):
        # with `rounds`, an unmarked sample named `step<step:06d>_<index>.png` (every trainer's samples, the
        # built-in trainer's noise pictures too) reads as rounds[step][index]
        self.rounds = rounds or {}

    def availability(self) -> Availability:
        return Availability.yes("test double")

    def read(self, images: list[Path]) -> list[FaceReading]:
        from PIL import Image

        out = []
        for path in images:
            with Image.open(path) as opened:
                rgb = opened.convert("RGB")
                kind, likeness, direction = rgb.getpixel((0, 0))
                marked = rgb.getpixel((1, 0)) == MARK
            named = SAMPLE_NAME.fullmatch(Path(path).stem)
            if not marked and named and int(named[1]) in self.rounds:
                spec = self.rounds[int(named[1])][int(named[2])]
                kind, likeness, direction = spec if spec is not None else (0, 0, 0)
                marked = True
            if kind != 1 or not marked:
                out.append(FaceReading(found=False))
                continue
            distance = 2 * self.same_person_distance * (1 - likeness / 100)
            unit = np.zeros(DIMENSIONS)
            unit[direction % DIMENSIONS] = 1.0
            out.append(FaceReading(found=True, embedding=CENTRE + distance * unit, yaw=0.0, pitch=0.0))
        return out


def use_scripted_faces(registry, monkeypatch=None, rounds: dict[int, list] | None = None) -> ScriptedFaces:
    """Make the double the face model that likeness uses: dlib steps aside (for the test, through pytest's
    `monkeypatch`; in the double's own studio process, for good)."""
    from plugins.evaluation.dlib_faces import DlibEvaluator

    def unavailable(self):
        return Availability.no("replaced by the likeness test double")

    if monkeypatch is not None:
        monkeypatch.setattr(DlibEvaluator, "availability", unavailable)
    else:
        DlibEvaluator.availability = unavailable
    return registry.register(ScriptedFaces(rounds))


class ScriptedTrainer(MockTrainer):
    """The mock trainer drawing scripted probe rounds as its samples: `rounds[step]` is a list of specs or
    `COPY`; steps without a round draw faceless noise."""

    name = "scripted-likeness"
    label = "Scripted likeness (test double)"

    def __init__(self, rounds: dict[int, list | str], seconds_per_run: float = 0.2):
        super().__init__(seconds_per_run=seconds_per_run)
        self.rounds = rounds

    def _samples(self, request, out, step):  # the mock's own hook for its sample pictures
        folder = out / "samples"
        spec = self.rounds.get(step, [NO_FACE] * 5)
        if spec == COPY:
            target = folder / f"step{step:06d}_0.png"
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(request.dataset[0].image, target)
            return [target]
        return [
            write_picture(folder / f"step{step:06d}_{i}.png", s, seed=step * 10 + i)
            for i, s in enumerate(spec)
        ]


# the classic run: someone else, then rising likeness with honest variety, then a copy of a training photo
RISING = {
    5: honest(30, 28, 33, 31, 29),
    10: honest(62, 60, 66, 58, 64),
    15: honest(76, 74, 79, 72, 77),
    20: COPY,
}


class FaceImageBackend(MockImageBackend):
    """Test double: an image backend whose picture depends on the LoRA file's step (`NAME_<step:09d>`, the
    final file counts as `final_step`) and the probe's seed: the scripted rounds, as `evaluate` draws them."""

    name = "faces"
    label = "Face pictures (test double)"

    def __init__(self, rounds: dict[int, list | str], final_step: int, photo: Path, folder: Path):
        super().__init__(seconds_per_step=0.0)
        self.rounds, self.final_step, self.photo, self.folder = rounds, final_step, photo, folder

    def run(self, request, ctx):
        from PIL import Image

        from plugins.image.interface import GeneratedImage, ImageResult

        tail = request.loras[0].path.stem.rsplit("_", 1)[-1]
        step = int(tail) if tail.isdigit() and len(tail) == 9 else self.final_step
        round_ = self.rounds[step]
        index = request.seed % 5
        if round_ == COPY:
            source = self.photo
        else:
            source = write_picture(
                self.folder / f"s{step}_{index}.png", round_[index], seed=step * 10 + index
            )
        image = Image.open(source).convert("RGB")
        return ImageResult(images=[GeneratedImage(image=image, seed=request.seed)])


def main() -> None:
    """`python -m tests.likeness_double`: the studio with the scripted face model and trainer registered."""
    from isengard.context import bootstrap
    from isengard.server import launch

    ctx = bootstrap(rotate_logs=True)
    use_scripted_faces(ctx.registry)
    ctx.registry.register(
        ScriptedTrainer(RISING, seconds_per_run=float(os.environ.get("DOUBLE_SECONDS", "1.0")))
    )
    launch(ctx, block=True)


if __name__ == "__main__":
    main()
