"""Test double for the likeness tests: the mock trainer drawing prepared real face pictures as its samples
— Grace Hopper, then the astronaut in new framings of rising likeness, and at the last step a copy of a
training photo — and a studio launcher with it registered, for the browser test."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from PIL import ImageEnhance

from plugins.training.mock import MockTrainer
from tests import photos


class RisingLikenessTrainer(MockTrainer):
    name = "rising-likeness"
    label = "Rising likeness (test double)"

    def __init__(self, seconds_per_run: float):
        super().__init__(seconds_per_run=seconds_per_run)
        self.pictures: dict[int, Path] = {}

    def _samples(self, request, out, step):  # the mock's own hook for its sample pictures
        folder = out / "samples"
        folder.mkdir(exist_ok=True)
        target = folder / f"step{step:06d}_0.png"
        shutil.copyfile(self.pictures[step], target)
        return [target]


def rising_pictures(folder: Path, training_photo: Path) -> dict[int, Path]:
    """Samples for steps 5–20 against the astronaut's good set: below the mark, then rising, then a copy."""
    folder.mkdir(parents=True, exist_ok=True)
    a = photos.astronaut()
    images = {
        5: photos.grace_hopper(),  # someone else: below the same-person mark
        10: ImageEnhance.Brightness(a.rotate(-8)).enhance(0.5),
        15: a.rotate(12).crop((60, 0, 452, 392)),  # the most alike, in a new framing
    }
    out = {}
    for step, image in images.items():
        out[step] = folder / f"probe{step}.png"
        image.save(out[step])
    out[20] = training_photo  # the last step reproduces a training photo
    return out


def main() -> None:
    """`python -m tests.likeness_double PHOTO`: the studio, with the double registered."""
    from isengard.context import bootstrap
    from isengard.server import launch

    ctx = bootstrap(rotate_logs=True)
    trainer = RisingLikenessTrainer(seconds_per_run=1.0)
    trainer.pictures = rising_pictures(Path(os.environ["TMP_DIR"]) / "probes", Path(sys.argv[1]))
    ctx.registry.register(trainer)
    launch(ctx, block=True)


if __name__ == "__main__":
    main()
