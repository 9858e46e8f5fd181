"""Scoring cost per probe picture on this CPU: face detection, 68 landmarks and pose, the identity
embedding, and the copy check against a character's four photos — the whole-picture check alone (as before)
against it plus the aligned-face check that catches re-framed copies (now), interleaved in one run.
Pictures at the sample sizes (512 and 1024 px), a face in each; medians over the rounds.
Then what stopping early saves on the likeness doubles' curves (2,000 steps, samples every 250), and the
share of a training run that the scoring takes: the tiny FLUX preset (100 steps, samples — the five
probes — every 25 steps), scoring seconds against the job's wall time.
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
    from tests.calibration_faces import FACES
    from tests.photos import astronaut

    evaluator = DlibEvaluator()
    photos = sorted(FACES.glob("*.jpg"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        readings = evaluator.read(photos)
        reference = reference_identity([r.embedding for r in readings])
        reference_s = time.perf_counter() - started
        whole = [thumbprint(p) for p in photos]
        aligned = [thumbprint(p, r) for p, r in zip(photos, readings, strict=True)]
        probes = {}
        for size in (512, 1024):
            probes[size] = tmp / f"probe{size}.png"
            astronaut().resize((size, size)).save(probes[size])

        def before(path: Path) -> None:
            reading = evaluator.read_one(path)
            reference.score(reading.embedding)
            copied_photo(thumbprint(path), whole)

        def now(path: Path) -> None:
            reading = evaluator.read_one(path)
            reference.score(reading.embedding)
            copied_photo(thumbprint(path, reading), aligned)

        now(probes[512])  # the models load once
        runs = {}
        for size, path in probes.items():
            runs[f"before_{size}px"] = lambda p=path: before(p)
            runs[f"now_{size}px"] = lambda p=path: now(p)
        times = _common.interleaved(runs, args.rounds)
    report = {
        "early_stop": early_stop_savings(),
        "training_share": training_share(),
        "reference_from_4_photos_s": round(reference_s, 3),
        **{name: {"median_s": round(statistics.median(v), 4), "runs": len(v)} for name, v in times.items()},
        "new_checks_ratio": {
            f"{size}px": round(
                statistics.median(times[f"now_{size}px"]) / statistics.median(times[f"before_{size}px"]), 3
            )
            for size in probes
        },
        "target_s_per_probe_at_1024": 0.5,
    }
    _common.write_report("likeness_scoring", report)


def early_stop_savings() -> dict:
    """Where the rule stops on the doubles' curves (the same rule the training service runs)."""
    from isengard.evaluation.early_stop import decide
    from isengard.evaluation.likeness import ProbeScore, summarise

    def run(curve: dict[int, tuple[float, int, bool]], patience: int = 3) -> dict:
        seen = []
        for step in sorted(curve):
            score, faces, copying = curve[step]
            probes = [ProbeScore("p", True, score, copies_photo=0 if copying else None)] * faces
            seen.append(summarise(step, probes + [ProbeScore("p", False)] * (5 - faces), collapsed=False))
            stop = decide(seen, patience)
            if stop:
                return {
                    "stopped_at": step,
                    "best_step": stop.best_step,
                    "saved_share": round(1 - step / 2000, 3),
                }
        return {"stopped_at": None, "saved_share": 0.0}

    steps = range(250, 2001, 250)
    return {
        "improving": run({s: (40 + s / 50, 5, False) for s in steps}),
        "plateau_after_1000": run({s: (min(76.0, 40 + s / 28), 5, False) for s in steps}),
        "copying_from_1500": run({s: (min(76.0, 40 + s / 28), 5, s >= 1500) for s in steps}),
        "too_few_faces": run({s: (70.0, 2, False) for s in steps}),
    }


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
