"""Helpers shared by CLI commands: output, following a job on the terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

from isengard.jobs import JobRecord, JobRunner
from isengard.jobs.reading import read


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def info(message: str) -> None:
    sys.stderr.write(message + "\n")


def follow_job(runner: JobRunner, job_id: str, *, quiet: bool = False) -> JobRecord:
    """Print a progress line per change on stderr until the job ends; return its final record."""
    last_line = ""
    job = None
    for job, events in runner.follow(job_id, poll=0.3):
        if quiet:
            continue
        for ev in events:
            if ev.type == "progress" and ev.data.get("message"):
                info(f"  {ev.data['message']}")
            for sample in ev.data.get("samples", []) if ev.type == "progress" else []:
                info(f"  sample: {sample}")
            if ev.type == "progress" and ev.data.get("checkpoint"):
                info(f"  checkpoint: {ev.data['checkpoint']}")
        line = progress_line(job)
        if line != last_line:
            info(line)
            last_line = line
    assert job is not None
    return job


def progress_line(job: JobRecord) -> str:
    p = job.progress
    parts = [f"[{job.status}]", job.title]
    if p.get("step") is not None and p.get("total"):
        parts.append(f"{p['step']}/{p['total']}")
    if p.get("loss") is not None:
        parts.append(f"loss {p['loss']:.4f}")
    if p.get("it_s"):
        parts.append(f"{p['it_s']:.2f} it/s")
    left = read(job).time_left  # the same reading as the studio's
    if left:
        parts.append(left)
    if job.error and job.terminal:
        parts.append(f"— {job.error}")
    return " ".join(parts)
