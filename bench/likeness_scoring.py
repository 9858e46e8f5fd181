"""Scoring cost per probe picture on this CPU: face detection, 68 landmarks and pose, the identity
embedding, and the copy check against a character's photos (the evaluation plugin and core together).
Pictures at the sample sizes (512 and 1024 px), a face in each; medians over the rounds.
Then the share of a training run that the scoring takes: the tiny FLUX preset (100 steps, samples — the
five probes — every 25 steps), scoring seconds against the job's wall time (rendering the probes aside:
the trainer makes those samples anyway).
Usage: python bench/likeness_scoring.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import _common


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from isengard.evaluation import copied_photo, reference_identity, thumbprint
    from plugins.evaluation.dlib_faces import DlibEvaluator
    from tests.photos import astronaut, good_set

    evaluator = DlibEvaluator()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = good_set(tmp / "photos")
        started = time.perf_counter()
        reference = reference_identity([r.embedding for r in evaluator.read(photos)])
        reference_s = time.perf_counter() - started
        prints = [thumbprint(p) for p in photos]
        probes = {}
        for size in (512, 1024):
            probes[size] = tmp / f"probe{size}.png"
            astronaut().resize((size, size)).save(probes[size])

        def score(path: Path) -> None:
            reading = evaluator.read_one(path)
            reference.score(reading.embedding)
            copied_photo(thumbprint(path), prints)

        score(probes[512])  # the models load once
        times = _common.interleaved(
            {f"probe_{s}px": (lambda p=p: score(p)) for s, p in probes.items()}, args.rounds
        )
    share = training_share()
    report = {
        "training_share": share,
        "reference_from_4_photos_s": round(reference_s, 3),
        **{name: {"median_s": round(statistics.median(v), 4), "runs": len(v)} for name, v in times.items()},
        "target_s_per_probe": 0.5,
    }
    _common.write_report("likeness_scoring", report)


def training_share() -> dict:
    from isengard.context import bootstrap
    from tests.helpers import install_tiny, make_settings, solid_photos

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = make_settings(tmp, mode="production")
        install_tiny(settings.data_dir, "flux", tmp / "tiny")
        ctx = bootstrap(settings, console=False)
        try:
            ctx.characters.create("Bench Face")
            ctx.characters.add_photos("Bench Face", [(p, p.name) for p in solid_photos(tmp / "p")])
            job = ctx.runner.wait(
                ctx.training.submit(
                    "Bench Face", base_model="tiny-flux", backend="diffusers", preset="tiny-cpu"
                ),
                timeout=900,
            )
            assert job.status == "succeeded", job.error
            scoring = job.result["recommendation"]["scoring_seconds"]
            return {
                "job_seconds": job.result["seconds"],
                "scoring_seconds": scoring,
                "share": round(scoring / job.result["seconds"], 3),
                "target_share": 0.10,
            }
        finally:
            ctx.close()


if __name__ == "__main__":
    main()
