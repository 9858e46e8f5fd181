"""The warm path on the tiny FLUX (production mode, real diffusers + peft, CPU).

1. In one studio-like process: the first training of a character (libraries imported on the way), then
   rounds of a cold job (the warm cache emptied first) and a warm one (same character and base),
   interleaved. Wall times and the trainer's own phase seconds (loading the base, preparing photos and
   prompts) are reported; ratios warm/cold and warm/first.
2. The CLI: `train --server URL` into a running studio against a plain `train` in a process of its own,
   interleaved.
Usage: python bench/warm_training.py [--rounds 3] [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common


def _job(ctx, steps: int):
    started = time.perf_counter()
    job_id = ctx.training.submit(
        "Bench Person",
        base_model="tiny-flux",
        backend="diffusers",
        preset="tiny-cpu",
        overrides={"steps": steps, "sample_every": 0, "save_every": 1000},
    )
    job = ctx.runner.wait(job_id, timeout=600)
    assert job.status == "succeeded", job.error
    wall = time.perf_counter() - started
    meta = ctx.loras.get(job.result["lora_id"]).metadata  # the trainer's own phase timings
    return wall, {k: float(meta.get(f"{k}_seconds") or 0) for k in ("load", "prepare")}


def in_process(work: Path, rounds: int, steps: int) -> dict:
    from isengard.context import bootstrap
    from tests.helpers import install_tiny, make_settings, solid_photos

    settings = make_settings(work / "studio", mode="production")
    install_tiny(settings.data_dir, "flux", work / "tiny")
    ctx = bootstrap(settings, console=False)
    try:
        character = ctx.characters.create("Bench Person")
        ctx.characters.add_photos(character.id, [(p, p.name) for p in solid_photos(work / "photos", count=8)])
        trainer = ctx.registry.get("training", "diffusers")
        first_wall, first_phases = _job(ctx, steps)
        cold, warm, cold_phases, warm_phases = [], [], [], []
        for _ in range(rounds):
            trainer.warm.clear()
            wall, phases = _job(ctx, steps)
            cold.append(wall)
            cold_phases.append(phases)
            wall, phases = _job(ctx, steps)
            warm.append(wall)
            warm_phases.append(phases)
        stats = dict(trainer.stats)
    finally:
        ctx.close()

    def median_phase(rows, key):
        return round(statistics.median(r[key] for r in rows), 4)

    cold_m, warm_m = statistics.median(cold), statistics.median(warm)
    return {
        "first_job_wall_s": round(first_wall, 3),
        "first_job_phases_s": first_phases,
        "cold_job_wall_s": {"median": round(cold_m, 3), "runs": [round(x, 3) for x in cold]},
        "warm_job_wall_s": {"median": round(warm_m, 3), "runs": [round(x, 3) for x in warm]},
        "warm_over_cold": round(warm_m / cold_m, 3),
        "warm_over_first": round(warm_m / first_wall, 3),
        "phases_median_s": {
            phase: {"cold": median_phase(cold_phases, phase), "warm": median_phase(warm_phases, phase)}
            for phase in ("load", "prepare")
        },
        "trainer_stats": stats,
    }


def cli_server(work: Path, rounds: int, steps: int) -> dict:
    from tests.helpers import child_env, install_tiny, run_cli, solid_photos
    from tests.server_fixtures import start_studio, stop_studio

    root = work / "served"
    install_tiny(root / "data", "flux", work / "tiny")
    studio = start_studio(root, ISENGARD_MODE="production")
    try:
        env = child_env(root, ISENGARD_MODE="production")
        photos = [str(p) for p in solid_photos(work / "cli-photos")]
        assert (
            run_cli(["character", "create", "Cli Bench", "--photos", *photos, "--no-check"], env).returncode
            == 0
        )
        args = [
            "train",
            "Cli Bench",
            "--base",
            "tiny-flux",
            "--steps",
            str(steps),
            "--sample-every",
            "0",
            "--json",
        ]
        remote_env = child_env(work / "elsewhere", ISENGARD_SERVER=studio.url)

        def run(env_) -> None:
            done = run_cli(args, env_, timeout=600)
            assert done.returncode == 0, done.stderr[-2000:]

        run(remote_env)  # the studio's first job pays its imports once; the rounds measure what follows
        times = _common.interleaved(
            {"plain_cli": lambda: run(env), "cli_server": lambda: run(remote_env)}, rounds
        )
    finally:
        stop_studio(studio)
    return _common.summary(times, "plain_cli")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="isengard-warm-") as tmp:
        work = Path(tmp)
        report = {"steps": args.steps, "rounds": args.rounds}
        build = "from isengard.tiny.models import build_tiny_base as b; import sys; b('flux', __import__('pathlib').Path(sys.argv[1]))"
        subprocess.run(
            [sys.executable, "-c", build, str(work / "tiny" / "tiny-flux")], check=True, cwd=_common.ROOT
        )
        # a fresh process with the model already built, so its first job really pays the imports
        out = subprocess.run(
            [sys.executable, __file__, "--in-process", str(work), str(args.rounds), str(args.steps)],
            capture_output=True,
            text=True,
            check=True,
        )
        report["studio"] = json.loads(out.stdout.strip().splitlines()[-1])
        report["cli"] = cli_server(work, args.rounds, args.steps)
    _common.write_report("warm_training", report)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--in-process":
        print(json.dumps(in_process(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
