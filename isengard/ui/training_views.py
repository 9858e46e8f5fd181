"""Pieces of the Training tab: the status of a run in words, its log, loss curve, samples, LoRA rows."""

from __future__ import annotations

import html
import time
from pathlib import Path

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


def sample_steps(ctx, job_id: str | None) -> list[int]:
    """The steps at which a training made samples, in order (the timeline's stops)."""
    if not job_id:
        return []
    return sorted({step for step, path in ctx.training.samples(job_id) if Path(path).exists()})


def samples_at(ctx, job_id: str | None, step: int | None):
    if not job_id or step is None:
        return []
    return [
        (path, f"step {s:,}") for s, path in ctx.training.samples(job_id) if s == step and Path(path).exists()
    ]


NO_SAMPLES = "Sample pictures appear here as the training goes, the same prompts at every stop."


def timeline(ctx, job_id: str | None, index: int | None = None) -> tuple[dict, list, str]:
    """(slider update, the pictures at the chosen stop, its caption); the newest stop when `index` is None."""
    import gradio as gr

    stops = sample_steps(ctx, job_id)
    if not stops:  # no empty framed gallery and idle slider: one line says what will come
        return (
            gr.update(maximum=1, value=0, interactive=False, visible=False),
            gr.update(value=[], visible=False),
            NO_SAMPLES,
        )
    chosen = len(stops) - 1 if index is None else max(0, min(int(index), len(stops) - 1))
    step = stops[chosen]
    note = f"Step {step:,} — sample {chosen + 1} of {len(stops)}. Slide to watch the face appear."
    return (
        gr.update(
            minimum=0,
            maximum=max(1, len(stops) - 1),
            value=chosen,
            step=1,
            interactive=len(stops) > 1,
            visible=True,
        ),
        gr.update(value=samples_at(ctx, job_id, step), visible=True),
        note,
    )
