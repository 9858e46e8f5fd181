"""Pieces of the Image Gen tab: the history rows, the gallery captions, the live preview, the status line
of a generation (per picture, and its place in line behind a training)."""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from isengard.errors import IsengardError
from isengard.evaluation.badges import badge_text
from isengard.jobs import JobRecord
from isengard.jobs.reading import read
from isengard.ui.activity import describe
from isengard.ui.job_views import progress_html


def gallery_items(ctx, images: list[dict], character_id) -> list[tuple[str, str]]:
    """(picture, caption) with each picture's seed and, when made with a character, its likeness badge;
    those pictures come most-alike first."""
    name = None
    if character_id:
        try:
            name = ctx.characters.get(int(character_id)).name
        except IsengardError:
            name = None
    if name and any((i.get("likeness") or {}).get("likeness") is not None for i in images):
        images = sorted(images, key=lambda i: -((i.get("likeness") or {}).get("likeness") or -1))
    items = []
    for image in images:
        badge = badge_text(image.get("likeness"), name) if name else ""
        items.append((image["path"], f"seed {image['seed']}" + (f" · {badge}" if badge else "")))
    return items


def preview_update(job: JobRecord):
    """The live preview shows only while a job runs; at rest the results gallery stands alone."""
    if job.terminal:
        return gr.update(value=None, visible=False)
    path = job.progress.get("preview")
    if not path or not Path(path).exists():
        return gr.update(visible=True)
    from PIL import Image

    try:
        with Image.open(path) as image:
            return gr.update(value=image.copy(), visible=True)
    except OSError:  # removed or half-replaced between the check and the read: keep the last one
        return gr.update(visible=True)


def waiting_for(ctx, job: JobRecord) -> JobRecord | None:
    """The job this generation waits behind (the one holding the graphics card), if it waits."""
    if job.terminal or (
        job.status == "running" and not str(job.progress.get("message", "")).startswith("Waiting")
    ):
        return None
    for other in ctx.runner.list(limit=30):
        if (
            other.id != job.id
            and other.status == "running"
            and other.kind in ("train", "generate", "evaluate")
        ):
            return other
    return None


def place_in_line(ctx, job: JobRecord) -> int:
    """1 when this is the next job to get the graphics card."""
    ahead = [
        j
        for j in ctx.runner.list(limit=50)
        if j.status in ("queued", "running")
        and j.id != job.id
        and j.created_at < job.created_at
        and j.kind in ("generate", "evaluate", "train")
        and (j.status == "queued" or str(j.progress.get("message", "")).startswith("Waiting"))
    ]
    return len(ahead) + 1


def processor_word(ctx) -> str:
    return "the computer" if ctx.device.kind == "cpu" else "the graphics card"


def status_html(ctx, job: JobRecord, blocker: JobRecord | None) -> str:
    p = job.progress
    count = int((job.params.get("form") or {}).get("count") or 1)
    what = f"Making {count} picture{'s' if count != 1 else ''}"
    extra = ""
    if blocker is not None:
        busy = describe(ctx, blocker)
        left = read(blocker).time_left  # the same reading the Training panel shows
        wait = f" ({left})" if left else ""
        place = place_in_line(ctx, job)
        turn = "You are next" if place == 1 else f"You are number {place} in line"
        extra = (
            f'<div class="isg-warn" id="gen-queue">{html.escape(busy.text.split(" · ")[0])} is using '
            f"{processor_word(ctx)}{wait}. {turn}.</div>"
        )
    elif not job.terminal and p.get("total") and p.get("image_index") is not None:
        per = max(1, int(p["total"]) // count)
        index = int(p["image_index"])
        step = int(p.get("step") or 0) - index * per
        extra = (
            f'<div id="gen-picture-step">Picture {index + 1} of {count} · step {max(0, step)} of {per}</div>'
        )
    if job.status == "succeeded" and job.result:
        extra += "".join(
            f'<div class="isg-muted">{html.escape(n)}</div>' for n in job.result.get("notes", [])
        )
    return progress_html(job, extra=extra, what=what)
