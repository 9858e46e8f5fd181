"""Cold start on the tiny FLUX (production mode, real diffusers + peft, CPU): from choosing a base that is
on disk to the first training step, and to the first picture, in a fresh process each time (a studio just
started) — against the same in that process once warm (the baseline, same run). Also the process's peak
host memory against the base's size on disk: loading goes straight to the device (diffusers' device_map),
so no second copy of the weights should pass through host memory.
The GPU check (bench/gpu_check.py) reports the cold start at full size.
Usage: python bench/cold_start.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common


def child(work: Path, what: str) -> dict:
    """One fresh studio: the first job of `what` to its first step (or picture), then a second one."""
    from isengard.context import bootstrap
    from isengard.generation.service import GenerateForm
    from tests.helpers import install_tiny, make_settings, solid_photos

    settings = make_settings(work / "studio", mode="production")
    install_tiny(settings.data_dir, "flux", work / "tiny")
    ctx = bootstrap(settings, console=False)
    try:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            if what == "train":
                person = ctx.characters.create(f"Cold {len(times)}")
                ctx.characters.add_photos(
                    person.id, [(p, p.name) for p in solid_photos(work / f"p{len(times)}")]
                )
                job_id = ctx.training.submit(person.id, base_model="tiny-flux", preset="tiny-cpu",
                                             overrides={"steps": 3, "sample_every": 0, "save_every": 1000})  # fmt: skip
                while not ctx.runner.get(job_id).progress.get("loss"):
                    time.sleep(0.002)
                times.append(time.perf_counter() - started)
                ctx.runner.wait(job_id, timeout=300)
            else:
                form = GenerateForm(prompt="a red apple", base_model="tiny-flux", seed=1, steps=4, count=1)
                job_id, _ = ctx.generation.submit(form)
                assert ctx.runner.wait(job_id, timeout=300).status == "succeeded"
                times.append(time.perf_counter() - started)
        weights = sum(p.stat().st_size for p in (settings.data_dir / "models").rglob("*.safetensors"))
    finally:
        ctx.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "cold_s": times[0],
        "warm_s": times[1],
        "peak_rss_mb": peak_kb / 1024,
        "weights_mb": weights / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("WORK", "WHAT"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1])))
        return
    rows: dict[str, list[dict]] = {"train": [], "picture": []}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.rounds):  # the two kinds take turns: drift hits both alike
            for what in rows:
                work = Path(tmp) / f"{what}{index}"
                done = subprocess.run([sys.executable, __file__, "--child", str(work), what], cwd=_common.ROOT,
                                      capture_output=True, text=True, check=True)  # fmt: skip
                rows[what].append(json.loads(done.stdout.strip().splitlines()[-1]))
    report = {"rounds": args.rounds}
    for what, runs in rows.items():
        cold = statistics.median(r["cold_s"] for r in runs)
        warm = statistics.median(r["warm_s"] for r in runs)
        report["to_first_step" if what == "train" else "to_first_picture"] = {
            "cold_median_s": round(cold, 3),
            "warm_median_s (baseline)": round(warm, 3),
            "cold_over_warm": round(cold / warm, 2),
            "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in runs), 1),
            "base_on_disk_mb": round(runs[0]["weights_mb"], 1),
        }
    _common.write_report("cold_start", report)


if __name__ == "__main__":
    main()
