"""Settings → Workers: the GPUs that run the jobs — this machine's, and with a job queue every worker on any
machine — with what each runs now and when it was last heard from."""

from __future__ import annotations

import html
import time

import gradio as gr

from isengard import device
from isengard.ui.actions import ui_action
from isengard.ui.job_views import details_html


def _ago(at: float | None) -> str:
    if not at:
        return "—"
    seconds = max(0, round(time.time() - float(at)))
    return "just now" if seconds < 2 else f"{seconds} s ago"


def _memory(gb) -> str:
    return f" · {float(gb):.0f} GB" if gb else ""


def queue_rows(workers: list[dict]) -> list[list[str]]:
    return [
        [
            str(w.get("name", "?")),
            str(w.get("host", "?")),
            f"{w.get('gpu') or 'CPU'}{_memory(w.get('memory_gb'))}",
            str(w.get("title") or "nothing (ready)"),
            _ago(w.get("heartbeat")),
        ]
        for w in workers
    ]


def local_rows(ctx) -> list[list[str]]:
    """Without a queue: each GPU slot of this machine and the job that holds it (from the GPU lock)."""
    places = list(device.list_gpus())
    holders = {h["slot"]: h for h in ctx.runner.gpu_lock.holders()}
    rows = []
    for slot in range(ctx.runner.gpu_slots):
        place = places[slot % len(places)] if places else None
        gpu = f"{place.name}{_memory(place.vram_gb)}" if place else "this computer's processor"
        held = holders.get(slot) or {}
        rows.append(
            [
                f"GPU {place.index + 1}" if place else "Processor",
                "this machine",
                gpu,
                str(held.get("title") or "nothing (ready)"),
                _ago(held.get("since")) if held else "—",
            ]
        )
    return rows


def state(ctx) -> tuple[str, list[list[str]]]:
    """(one sentence, the table) for the panel."""
    placement = ctx.runner.placement
    if not getattr(placement, "holds_local_gpu", True):
        if not placement.reachable():
            return (
                '<span class="isg-bad" id="workers-state">The job queue cannot be reached right now: new '
                "jobs wait here and go out to the workers when it is back.</span>",
                [],
            )
        workers = placement.workers()
        if not workers:
            return (
                '<span class="isg-warn" id="workers-state">No GPU worker is connected: jobs wait until one '
                "starts (see “More GPUs” in the README).</span>",
                [],
            )
        busy = sum(1 for w in workers if w.get("job"))
        return (
            f'<span class="isg-ok" id="workers-state">{len(workers)} worker'
            f"{'s' if len(workers) != 1 else ''} connected, {busy} busy. Jobs go to whichever is free.</span>",
            queue_rows(workers),
        )
    rows = local_rows(ctx)
    what = "GPU" if device.list_gpus() else "job slot"
    return (
        f'<span class="isg-ok" id="workers-state">Jobs run on this machine: {len(rows)} {what}'
        f"{'s' if len(rows) != 1 else ''}, one job on each at a time.</span>"
        + details_html(
            "To add GPUs on other machines, start a job queue and workers (README, “More GPUs”).",
            "More GPUs",
        ),
        rows,
    )


def rows_html(rows: list[list[str]]) -> str:
    """One card per worker (a table would not fit a phone): name, then where, GPU, job and last word."""
    if not rows:
        return '<div id="isg-workers-table"></div>'
    items = "".join(
        f'<li class="isg-worker"><b>{html.escape(name)}</b> · {html.escape(machine)} · {html.escape(gpu)}'
        f'<br><span class="isg-muted">Running now: {html.escape(job)} · heard {html.escape(heard)}</span></li>'
        for name, machine, gpu, job, heard in rows
    )
    return f'<ul id="isg-workers-table" class="isg-workers">{items}</ul>'


def render(ctx) -> None:
    sentence, rows = state(ctx)
    with gr.Accordion("Workers — the GPUs that run the jobs", open=False, elem_id="isg-workers"):
        note = gr.HTML(sentence, elem_id="isg-workers-note")
        table = gr.HTML(rows_html(rows), elem_id="isg-workers-list")
        timer = gr.Timer(3.0)

    @ui_action("workers.refresh", quiet=True)
    def refresh():
        found, shown = state(ctx)
        return found, rows_html(shown)

    timer.tick(
        refresh,
        outputs=[note, table],
        show_progress="hidden",
        concurrency_limit=None,
        api_visibility="private",
    )
