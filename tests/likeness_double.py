"""Test double for the likeness tests: the mock trainer drawing prepared real face pictures as its samples
— Grace Hopper, then the astronaut in new framings of rising likeness, and at the last step a copy of a
training photo — and a studio launcher with it registered, for the browser test."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from PIL import ImageEnhance

from plugins.image.mock import MockImageBackend
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


class FaceImageBackend(MockImageBackend):
    """Test double: an image backend whose picture depends on the LoRA file's step (`NAME_<step:09d>`, the
    final file counts as `final_step`): the prepared face pictures of `rising_pictures`."""

    name = "faces"
    label = "Face pictures (test double)"

    def __init__(self, pictures: dict[int, Path], final_step: int):
        super().__init__(seconds_per_step=0.0)
        self.pictures, self.final_step = pictures, final_step

    def run(self, request, ctx):
        from PIL import Image

        from plugins.image.interface import GeneratedImage, ImageResult

        stem = request.loras[0].path.stem
        tail = stem.rsplit("_", 1)[-1]
        step = int(tail) if tail.isdigit() and len(tail) == 9 else self.final_step
        image = Image.open(self.pictures[step]).convert("RGB")
        if step != self.final_step:  # honest variety across the probes; the last file copies exactly
            image = vary(image, request.seed % 5)
        return ImageResult(images=[GeneratedImage(image=image, seed=request.seed)])


def vary(image, index: int):
    """Five honest variations of one picture (as five prompts give), the same face in each."""
    from PIL import ImageOps

    w, h = image.size
    return [
        lambda im: im,
        ImageOps.mirror,
        lambda im: im.rotate(6),
        lambda im: ImageEnhance.Brightness(im).enhance(0.8),
        lambda im: im.crop((w // 20, h // 20, w - w // 20, h - h // 20)).resize((w, h)),
    ][index](image)
