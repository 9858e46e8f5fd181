"""`worker`: serve the studio's GPU queue from this machine (REDIS_URL), one process per GPU."""

from __future__ import annotations

import argparse
import os

from isengard import device
from isengard.errors import InputError
from isengard.settings import Settings


def add_parser(sub) -> None:
    p = sub.add_parser(
        "worker",
        help="run the studio's GPU jobs on this machine (needs REDIS_URL and the studio's data folder)",
    )
    p.add_argument("--gpus", help="which GPUs, e.g. 0,1 (default: every GPU; the CPU when there is none)")
    p.add_argument("--redis", help="the studio's Redis (default: REDIS_URL)")
    p.add_argument("--name", help="this worker's name in Settings → Workers (default: machine and GPU)")
    p.add_argument(
        "--server",
        help="the studio's address, e.g. http://10.0.0.5:7860 (also ISENGARD_SERVER), for a worker that "
        "does not share the studio's data folder: it fetches photos and models and sends results there",
    )
    p.add_argument("--this-gpu", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args) -> int:
    from isengard.jobs.worker_main import launch, serve, wait_all

    env = dict(os.environ)
    if args.redis:
        env["REDIS_URL"] = args.redis
    settings = Settings.from_env(env)
    if args.this_gpu is not None:  # one of the processes below (or the only one)
        gpu = None if args.this_gpu == "cpu" else args.this_gpu
        return serve(settings, gpu=gpu, name=args.name, server=args.server)
    gpus = chosen_gpus(args.gpus)
    if len(gpus) <= 1:  # one GPU or the CPU: this process serves it
        if gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpus[0]  # before anything imports torch
            device.list_gpus.cache_clear()
            device.detect_device.cache_clear()
        return serve(settings, gpu=gpus[0] if gpus else None, name=args.name, server=args.server)
    return wait_all(launch(gpus, env=env, name=args.name, server=args.server))


def chosen_gpus(text: str | None) -> list[str]:
    """The GPU ids to serve: those named (as CUDA_VISIBLE_DEVICES names them), else every visible GPU."""
    visible = [g.visible_id for g in device.list_gpus()]
    if not text:
        return visible
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [w for w in wanted if w not in visible]
    if unknown:
        seen = ", ".join(visible) or "none"
        raise InputError(f"There is no GPU {', '.join(unknown)} on this machine (GPUs: {seen}).")
    return wanted
