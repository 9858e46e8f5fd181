"""Load check: 20 concurrent API generations plus a training, against a running fast-test studio.

The studio runs as `python app.py` in its own process; 20 threads each start a generation through
`gradio_client` and follow it to its end, while a CLI `train` in a third process shares the machine-wide
GPU lock. Bounded in time (`--limit`). Reported: every job's final state, wall time, the median time a
generation took to finish against the same single generation on an idle studio (a ratio in the same
run), and the studio's memory (RSS) sampled through the run: its peak and whether it levelled off
(the last third of the run against the middle third).
Usage: python bench/load.py [--generations 20] [--rounds 2] [--limit 300]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common
import psutil

from tests.helpers import child_env, solid_photos
from tests.server_fixtures import start_studio, stop_studio


def follow(client, job_id: str, deadline: float) -> dict:
    while time.monotonic() < deadline:
        job = client.predict(job_id=job_id, api_name="/job")
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    return {"status": "timed out", "error": "the bench's time limit"}


def one_generation(url: str, deadline: float, prompt: str) -> tuple[str, float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    started = time.perf_counter()
    job_id = client.predict(prompt=prompt, count=2, api_name="/generate")["job_id"]
    job = follow(client, job_id, deadline)
    return job["status"], time.perf_counter() - started


def _into(results: list, url: str, deadline: float, prompt: str) -> None:
    results.append(one_generation(url, deadline, prompt))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="load rounds, each after an idle baseline")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds before the bench gives up")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="isengard-load-"))
    studio = start_studio(root)
    studio_process = psutil.Process(studio.process.pid)
    env = child_env(root)
    deadline = time.monotonic() + args.limit
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample_memory() -> None:
        began = time.monotonic()
        while not stop.wait(0.5):
            try:
                samples.append((time.monotonic() - began, studio_process.memory_info().rss / 2**20))
            except psutil.Error:
                return

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    photos = solid_photos(root / "photos", count=3)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "isengard",
            "character",
            "create",
            "Load Test",
            "--no-check",
            "--photos",
            *map(str, photos),
        ],
        cwd=_common.ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    outcomes: list[str] = []
    idle, loaded = [], []
    train_states = []
    started = time.perf_counter()
    try:
        for round_ in range(args.rounds):
            status, seconds = one_generation(studio.url, deadline, f"idle baseline {round_}")
            outcomes.append(status)
            idle.append(seconds)
            train = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "isengard",
                    "train",
                    "Load Test",
                    "--base",
                    "flux-dev",
                    "--steps",
                    "60",
                ],
                cwd=_common.ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            results: list[tuple[str, float]] = []
            threads = [
                threading.Thread(target=_into, args=(results, studio.url, deadline, f"load {round_}-{i}"))
                for i in range(args.generations)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(1.0, deadline - time.monotonic()))
            train_states.append(train.wait(max(1.0, deadline - time.monotonic())))
            outcomes += [status for status, _ in results]
            loaded += [seconds for _, seconds in results]
    finally:
        wall = time.perf_counter() - started
        stop.set()
        sampler.join(2)
        stop_studio(studio)
    rss = [mb for _, mb in samples]
    third = max(1, len(rss) // 3)
    middle, last = rss[third : 2 * third] or rss, rss[2 * third :] or rss
    report = {
        "generations": len(loaded),
        "trainings": len(train_states),
        "all_succeeded": all(s == "succeeded" for s in outcomes) and all(code == 0 for code in train_states),
        "statuses": {s: outcomes.count(s) for s in set(outcomes)},
        "training_exit_codes": train_states,
        "wall_s": round(wall, 2),
        "idle_generation_median_s": round(statistics.median(idle), 3),
        "loaded_generation_median_s": round(statistics.median(loaded), 3),
        "loaded_over_idle": round(statistics.median(loaded) / statistics.median(idle), 2),
        "rss_mb": {
            "start": round(rss[0], 1) if rss else None,
            "peak": round(max(rss), 1) if rss else None,
            "middle_third_median": round(statistics.median(middle), 1) if rss else None,
            "last_third_median": round(statistics.median(last), 1) if rss else None,
            "samples": len(rss),
        },
        "levelled_off": bool(rss) and statistics.median(last) <= statistics.median(middle) * 1.10,
    }
    _common.write_report("load", report)


if __name__ == "__main__":
    main()
