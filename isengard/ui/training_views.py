"""Pieces of the Training tab: the status of a run in words, its log, loss curve, samples, LoRA rows."""

from __future__ import annotations

import html
import time

from isengard.jobs import JobRecord
from isengard.ui.job_views import details_html, progress_html


def character_name(ctx, job: JobRecord) -> str | None:
    from isengard.errors import IsengardError

    char_id = job.params.get("character_id")
    try:
        return ctx.characters.get(int(char_id)).name if char_id else None
    except IsengardError:
        return None


def status_html(ctx, job: JobRecord | None) -> str:
    if job is None:
        return (
            '<div class="isg-muted" id="train-idle">Nothing is training. Pick a character and press Train: '
            "progress, samples and the likeness score appear here.</div>"
        )
    p = job.progress
    name = character_name(ctx, job)
    facts = []
    if p.get("loss") is not None and not job.terminal:
        facts.append(f"loss {p['loss']:.4f}")
    if p.get("it_s") and not job.terminal:
        facts.append(f"{p['it_s']:.2f} steps a second")
    extra = f'<div class="isg-muted" id="train-step">{" · ".join(facts)}</div>' if facts else ""
    if job.status == "succeeded" and job.result:
        whose = f"{html.escape(name)}'s" if name else "The"
        extra += (
            f'<div class="isg-ok" id="train-done"><b>{whose} likeness is trained.</b> '
            "Make pictures with it, or download it below.</div>"
            + details_html(f"Saved as {job.result['lora_path']}")
        )
    elif job.status == "interrupted":
        extra += '<div class="isg-warn">Isengard was closed while it trained. Press Resume to go on.</div>'
    elif job.status == "cancelled":
        extra += '<div class="isg-muted">Press Resume to go on from the last checkpoint.</div>'
    what = f"Training {name}" if name else "Training"
    return progress_html(job, extra=extra, what=what)


def log_tail(ctx, job_id: str, lines: int = 14) -> str:
    out = []
    for ev in ctx.runner.events(job_id)[-200:]:
        stamp = time.strftime("%H:%M:%S", time.localtime(ev.ts))
        data = ev.data
        if ev.type == "status":
            out.append(
                f"{stamp} status: {data.get('status')}" + (f" — {data['error']}" if data.get("error") else "")
            )
        elif data.get("message"):
            out.append(f"{stamp} {data['message']}")
        elif data.get("checkpoint"):
            out.append(f"{stamp} checkpoint saved at step {data.get('step')}")
        elif data.get("samples"):
            out.append(f"{stamp} samples at step {data.get('step')}")
    return "\n".join(out[-lines:])


def loss_frame(ctx, job_id: str):
    import pandas as pd

    curve = ctx.training.loss_curve(job_id)
    return pd.DataFrame({"step": [s for s, _ in curve], "loss": [v for _, v in curve]})


def samples(ctx, job_id: str, newest: int = 6):
    items = ctx.training.samples(job_id)[-newest:]
    return [(path, f"step {step:,}") for step, path in reversed(items)]
