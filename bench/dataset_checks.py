"""How long the dataset checks take for 30 photos, and the service's overhead over bare measurements.

Baseline: measure_photo() called directly on each file plus the set-level step. App path: the same work
as a `dataset_check` job through the characters service (database, progress events, report).
Usage: python bench/dataset_checks.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from pathlib import Path

import _common
from PIL import Image, ImageEnhance


def make_photos(folder: Path, count: int = 30) -> list[Path]:
    from skimage import data

    base = Image.fromarray(data.astronaut()).resize((1024, 1024), Image.Resampling.LANCZOS)
    rng = random.Random(7)
    paths = []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = base.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if i % 2 else base
        left, top = rng.randint(0, 160), rng.randint(0, 160)
        image = image.crop((left, top, left + 860, top + 860)).resize((1024, 1024))
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.8, 1.2))
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.7, 1.3))
        path = folder / f"photo_{i:02d}.jpg"
        image.save(path, quality=92)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from isengard.characters.checks import FaceAnalyzer, measure_photo, set_level
    from isengard.context import bootstrap
    from isengard.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="isengard-bench-"))
    files = make_photos(work / "in")
    env = {
        "ISENGARD_MODE": "fast-test",
        "DATA_DIR": str(work / "data"),
        "LOG_DIR": str(work / "logs"),
        "TMP_DIR": str(work / "tmp"),
    }
    ctx = bootstrap(Settings.from_env(env, volume_roots=()), console=False)
    character = ctx.characters.create("Bench Person")
    ctx.characters.add_photos(character.id, [(p, p.name) for p in files])
    stored = [p.path for p in ctx.characters.photos(character.id)]
    analyzer = FaceAnalyzer.shared()
    measure_photo(stored[0], analyzer)  # load models outside the timings

    def bare():
        measured = [(i, measure_photo(path, analyzer)) for i, path in enumerate(stored)]
        set_level(measured)

    def app_path():
        job = ctx.runner.wait(ctx.characters.submit_checks(character.id), timeout=600)
        assert job.status == "succeeded", job.error

    times = _common.interleaved({"bare_measurements": bare, "check_job": app_path}, args.repeats)
    result = _common.summary(times, "bare_measurements")
    state, _ = ctx.characters.report(character.id)
    ctx.close()
    _common.write_report(
        "dataset_checks",
        {
            "photos": len(files),
            "photo_size": "1024x1024 JPEG",
            "results": result,
            "seconds_per_photo_app": round(result["check_job"]["median_s"] / len(files), 4),
            "readiness": state.status,
        },
    )


if __name__ == "__main__":
    main()
