"""What the studio is doing right now, in one short line for the header ("Training Ada · 41 % · about
6 min left"), and which tab shows it. Read from the job records, so it also shows work started by a
script or in another browser."""

from __future__ import annotations

from dataclasses import dataclass

from isengard.errors import IsengardError
from isengard.jobs import JobRecord
from isengard.jobs.reading import read

WATCHED = ("train", "generate", "dataset_check", "caption", "autocrop", "evaluate", "download")


@dataclass(frozen=True)
class Activity:
    text: str
    tab: str
    character_id: int | None
    job_id: str


def _name(ctx, character_id) -> str | None:
    if not character_id:
        return None
    try:
        return ctx.characters.get(int(character_id)).name
    except IsengardError:
        return None


def _what(ctx, job: JobRecord) -> tuple[str, str, int | None]:
    params = job.params or {}
    char_id = params.get("character_id") or (params.get("form") or {}).get("character_id")
    name = _name(ctx, char_id)
    if job.kind == "train":
        return (f"Training {name}" if name else "Training a LoRA"), "training", char_id
    if job.kind == "generate":
        count = int((params.get("form") or {}).get("count") or 1)
        return f"Making {count} picture{'s' if count != 1 else ''}", "image", char_id
    if job.kind == "evaluate":
        return (f"Measuring {name}'s likeness" if name else "Measuring likeness"), "training", char_id
    if job.kind == "download":
        return "Downloading a model", "training", None
    verbs = {"dataset_check": "Checking", "caption": "Captioning", "autocrop": "Cropping"}
    whose = f"{name}'s photos" if name else "photos"
    return f"{verbs.get(job.kind, 'Working on')} {whose}", "characters", char_id


def describe(ctx, job: JobRecord) -> Activity:
    what, tab, char_id = _what(ctx, job)
    parts = [what]
    if job.status == "queued" or str(job.progress.get("message", "")).startswith("Waiting"):
        parts.append("waiting its turn")
    else:
        now = read(job)  # the same reading as the Training panel's: the same share and time left
        if now.where:
            parts.append(f"on {now.where}")
        if now.percent is not None:
            parts.append(f"{now.percent} %")
        if now.time_left:
            parts.append(now.time_left)
    return Activity(" · ".join(parts), tab, int(char_id) if char_id else None, job.id)


def current(ctx) -> tuple[Activity | None, int]:
    """The job to show (a training first: it is the long one) and how many others are running."""
    active = [j for j in ctx.runner.list(limit=30, kinds=WATCHED) if not j.terminal]
    if not active:
        return None, 0
    active.sort(key=lambda j: (j.kind != "train", j.status != "running", j.created_at))
    return describe(ctx, active[0]), len(active) - 1


def line(ctx) -> tuple[str, Activity | None]:
    shown, others = current(ctx)
    if shown is None:
        return "", None
    more = f" · and {others} more" if others else ""
    return f"{shown.text}{more}", shown
