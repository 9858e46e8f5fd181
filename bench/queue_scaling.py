"""The job queue on this machine (a real Redis, real worker processes, the studio in this process):

1. four tiny FLUX trainings through one worker against two workers (each worker one thread: one core
   each on a 2-core machine), the workers warm (each has loaded the base once, as a worker that has run
   one job has) — the wall time of the four, target ≤ 0.6× with two; beside it the same four trainings in
   plain processes (one against two, no studio, no Redis): the machine's own ceiling for that ratio;
2. submit → first training step through Redis (a warm worker waiting) against in-process — target ≤ +0.5 s;
3. a step on the worker → the studio's database: each step's send time (the Redis stream id is stamped by
   Redis when the worker adds it) against the time the studio wrote it — target p95 ≤ 1 s;
4. the cost of a cancelled job's hand-back: Stop → the job ended, through Redis against in-process.
Interleaved rounds, medians. Usage: python bench/queue_scaling.py [--rounds 3] [--steps 120]
Needs Debian's redis-server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

TRAINING = {"steps": 120, "save_every": 1000, "sample_every": 0}  # --steps changes the trainings' length


def redis(port: int, folder: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return process


def studio(root: Path, mode: str, redis_url: str | None):
    from isengard.context import bootstrap
    from tests.helpers import install_tiny, make_settings, solid_photos

    env = {"WORKER_CONCURRENCY": "0", "REDIS_URL": redis_url} if redis_url else {}
    settings = make_settings(root, mode=mode, env=env)
    if mode == "production":
        install_tiny(settings.data_dir, "flux", root.parent / "tiny")
    ctx = bootstrap(settings, console=False)
    people = []
    for index in range(4):  # one training per person at a time: four people for four at once
        person = ctx.characters.create(f"Bench Person {index}")
        ctx.characters.add_photos(person.id, [(p, p.name) for p in solid_photos(root / f"photos{index}")])
        people.append(person.id)
    return ctx, people


def start_workers(root: Path, url: str, count: int, mode: str) -> list[subprocess.Popen]:
    from tests.helpers import child_env

    env = child_env(root, REDIS_URL=url, ISENGARD_MODE=mode, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return [
        subprocess.Popen(
            [sys.executable, "-m", "isengard", "worker", "--name", f"bench-{i}"],
            cwd=_common.ROOT,
            env=env,
            stdout=(root / f"worker-{i}.out").open("ab"),
            stderr=subprocess.STDOUT,
        )
        for i in range(count)
    ]


def stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            print(f"worker {child.pid} did not stop within 60 s of SIGTERM", file=sys.stderr)
            child.send_signal(signal.SIGUSR1)  # its threads' stacks into its output file
            time.sleep(1)
            child.kill()
            child.wait()


def wait_workers(ctx, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(ctx.runner.placement.workers()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not connect")
        time.sleep(0.2)


def four_trainings(ctx, people: list[int]) -> float:
    started = time.perf_counter()
    ids = [
        ctx.training.submit(person, base_model="tiny-flux", preset="tiny-cpu", overrides=TRAINING)
        for person in people
    ]
    for job_id in ids:
        assert ctx.runner.wait(job_id, timeout=900).status == "succeeded"
    return time.perf_counter() - started


def first_step(ctx, people: list[int]) -> float:
    started = time.perf_counter()
    job_id = ctx.training.submit(people[0], base_model="flux-dev", backend="mock", overrides={"steps": 20})
    while not ctx.runner.get(job_id).progress.get("step"):
        time.sleep(0.005)
    took = time.perf_counter() - started
    ctx.runner.wait(job_id, timeout=60)
    return took


def step_latencies(ctx, people: list[int]) -> list[float]:
    """Per step: when it could first be read from the studio's database (polled every 5 ms from another
    connection, as a browser's view reads it) minus the worker's send time (Redis stamps the stream entry)."""
    import json
    import threading

    from isengard.jobs import wire
    from isengard.storage.db import Database

    job_id = ctx.training.submit(people[0], base_model="flux-dev", backend="mock", overrides={"steps": 100})
    written: dict[int, float] = {}
    done = threading.Event()

    def poll() -> None:
        reader = Database(ctx.paths.db)
        seen = 0
        while not done.is_set():
            for row in reader.query(
                "SELECT seq, data FROM job_events WHERE job_id=? AND seq>?", (job_id, seen)
            ):
                seen = max(seen, row["seq"])
                data = json.loads(row["data"])
                if "step" in data and "loss" in data:
                    written.setdefault(data["step"], time.time())
            time.sleep(0.005)
        reader.close()

    poller = threading.Thread(target=poll)
    poller.start()
    ctx.runner.wait(job_id, timeout=120)
    time.sleep(0.3)
    done.set()
    poller.join()
    sent = {}
    for entry_id, fields in ctx.runner.placement.redis.xrange(wire.events_key(job_id)):
        data = json.loads(fields[b"d"])
        if fields[b"t"] == b"progress" and "step" in data and "loss" in data:
            sent.setdefault(data["step"], int(entry_id.decode().split("-")[0]) / 1000)
    return [written[s] - sent[s] for s in sent if s in written]


def hand_back(ctx, people: list[int]) -> float:
    job_id = ctx.training.submit(people[0], base_model="flux-dev", backend="mock", overrides={"steps": 400})
    while ctx.runner.get(job_id).progress.get("step", 0) < 5:
        time.sleep(0.005)
    started = time.perf_counter()
    ctx.runner.cancel(job_id)
    ctx.runner.wait(job_id, timeout=60)
    return time.perf_counter() - started


CEILING_CHILD = r"""
import sys, time
import torch
torch.set_num_threads(1)
from pathlib import Path
from plugins.base import ModelRef, PluginSettings, SimpleRunContext
from plugins.training.diffusers_trainer import DiffusersTrainer
from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest
from tests.helpers import install_tiny, solid_photos
root, count, steps = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
base = install_tiny(root / "data", "flux", root / "tiny")
photos = solid_photos(root / "photos")
trainer = DiffusersTrainer(PluginSettings(mode="production"))
def train(i):
    trainer.run(TrainingRequest(job_id=f"j{i}", name=f"n{i}", trigger_word="zxq",
        dataset=[DatasetItem(p, "a photo of zxq") for p in photos],
        base=ModelRef(id="tiny-flux", family="flux", source="tiny:flux", local_path=base),
        params=TrainingParams(steps=steps, rank=4, alpha=4, learning_rate=1e-2, resolution=64, save_every=1000,
                              sample_every=0, mixed_precision="fp32", gradient_checkpointing=False),
        output_dir=root / f"run{i}"), SimpleRunContext())
train(-1)  # warm, as the workers are
print("READY", flush=True)
sys.stdin.readline()
for i in range(count):
    train(i)
print("DONE", flush=True)
"""


def same_work_without_queue(root: Path, processes: int, each: int, steps: int) -> float:
    """The machine's own ceiling: the same tiny trainings in plain processes (no studio, no Redis)."""
    from tests.helpers import child_env

    env = child_env(root, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    children = [
        subprocess.Popen([sys.executable, "-c", CEILING_CHILD, str(root / f"p{k}"), str(each), str(steps)],
                         cwd=_common.ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for k in range(processes)
    ]  # fmt: skip
    for child in children:
        while "READY" not in (child.stdout.readline() or "READY"):
            pass
    started = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        while "DONE" not in (child.stdout.readline() or "DONE"):
            pass
        child.wait(60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=120, help="steps of each tiny training (part 1)")
    args = parser.parse_args()
    TRAINING["steps"] = args.steps
    from tests.helpers import free_port

    report: dict = {"rounds": args.rounds}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port = free_port()
        server = redis(port, tmp)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            # 1. one worker against two, four real tiny trainings each round
            ctx, person = studio(tmp / "train", "production", url)
            walls: dict[str, list[float]] = {"one_worker": [], "two_workers": []}
            try:
                for _ in range(args.rounds):  # the two set-ups take turns: drift hits both alike
                    for name, count in (("one_worker", 1), ("two_workers", 2)):
                        children = start_workers(tmp / "train", url, count, "production")
                        wait_workers(ctx, count)
                        four_trainings(ctx, person)  # warm-up: each worker loads the base once
                        walls[name] += [four_trainings(ctx, person) for _ in range(2)]
                        stop(children)
                        while ctx.runner.placement.workers():
                            time.sleep(0.2)
            finally:
                ctx.close()
            report["four_trainings"] = _common.summary(walls, "one_worker") | {
                "target_ratio": 0.6,
                "steps_each": args.steps,
            }
            # the same four trainings without the queue: what two processes can do on this machine at all
            bare: dict[str, list[float]] = {"one_process": [], "two_processes": []}
            for index in range(args.rounds):
                bare["one_process"].append(same_work_without_queue(tmp / f"bare1-{index}", 1, 4, args.steps))
                bare["two_processes"].append(
                    same_work_without_queue(tmp / f"bare2-{index}", 2, 2, args.steps)
                )
            report["same_work_without_queue"] = _common.summary(bare, "one_process")

            # 2–4. in-process against through Redis (fast-test plugins: the queue's own cost)
            local, local_person = studio(tmp / "local", "fast-test", None)
            queued, queued_person = studio(tmp / "queued", "fast-test", url)
            children = start_workers(tmp / "queued", url, 1, "fast-test")
            try:
                wait_workers(queued, 1)
                first_step(queued, queued_person)  # the worker's first job imports what it needs
                starts = _common.interleaved(
                    {
                        "in_process": lambda: first_step(local, local_person),
                        "through_redis": lambda: first_step(queued, queued_person),
                    },
                    args.rounds * 3,
                )
                report["submit_to_first_step"] = _common.summary(starts, "in_process") | {
                    "added_s": round(
                        statistics.median(starts["through_redis"]) - statistics.median(starts["in_process"]),
                        3,
                    ),
                    "target_added_s": 0.5,
                }
                latencies = sorted(
                    x for _ in range(args.rounds) for x in step_latencies(queued, queued_person)
                )
                report["step_to_database"] = {
                    "steps": len(latencies),
                    "p50_s": round(latencies[len(latencies) // 2], 3),
                    "p95_s": round(latencies[int(len(latencies) * 0.95)], 3),
                    "target_p95_s": 1.0,
                }
                stops = _common.interleaved(
                    {
                        "in_process": lambda: hand_back(local, local_person),
                        "through_redis": lambda: hand_back(queued, queued_person),
                    },
                    args.rounds * 2,
                )
                report["cancel_hand_back"] = _common.summary(stops, "in_process")
            finally:
                stop(children)
                local.close()
                queued.close()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
    report["cpus"] = os.cpu_count()
    _common.write_report("queue_scaling", report)


if __name__ == "__main__":
    main()
