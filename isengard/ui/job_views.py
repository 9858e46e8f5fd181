"""How a job reads to a person: a progress bar, what is happening in words, and — when it stopped — why,
in a sentence, with the technical text behind "Details"."""

from __future__ import annotations

import html

from isengard.jobs import JobRecord
from isengard.ui.activity import minutes

STATUS_WORDS = {
    "queued": "waiting to start",
    "running": "in progress",
    "succeeded": "done",
    "failed": "stopped by a problem",
    "cancelled": "stopped",
    "interrupted": "interrupted",
}
TECHNICAL = "Unexpected error:"


def plain_error(error: str | None) -> tuple[str, str]:
    """(the sentence a person reads, the technical text for Details)."""
    if not error:
        return "", ""
    if error.startswith(TECHNICAL):
        return "It stopped because of an unexpected problem; nothing made so far is lost.", error
    return error, ""


def details_html(text: str, summary: str = "Details") -> str:
    if not text:
        return ""
    return (
        f'<details class="isg-details"><summary>{html.escape(summary)}</summary>'
        f"<code>{html.escape(text)}</code></details>"
    )


def job_line(job: JobRecord, what: str | None = None) -> str:
    """'Training Ada — in progress · step 40 of 1,000 · about 6 min left'."""
    parts = [f"{html.escape(what or job.title)} — {STATUS_WORDS.get(job.status, job.status)}"]
    step, total = job.progress.get("step"), job.progress.get("total")
    preparing = job.progress.get("phase") in ("preparing", "downloading")  # the bar shows it; no "steps"
    if step is not None and total and not job.terminal and not preparing:
        parts.append(f"step {step:,} of {total:,}")
    elif job.status == "succeeded" and total and job.kind == "train":
        parts.append(f"{total:,} steps")
    if job.progress.get("eta_s") and job.status == "running":
        parts.append(f"{minutes(job.progress['eta_s'])} left")
    message = job.progress.get("message")
    if message and not job.terminal:
        parts.append(html.escape(str(message)))
    return " · ".join(parts)


def progress_html(job: JobRecord, *, extra: str = "", what: str | None = None) -> str:
    fraction = job.fraction
    pct = 0 if fraction is None else round(fraction * 100)
    bar_class = {"failed": "bad", "cancelled": "warn", "interrupted": "warn"}.get(job.status, "")
    sentence, technical = plain_error(
        job.error if job.status in ("failed", "cancelled", "interrupted") else ""
    )
    why = f'<div class="isg-why">{html.escape(sentence)}</div>' if sentence else ""
    return (
        f'<div class="isg-progress" data-status="{job.status}" data-job="{job.id}">'
        f'<div class="isg-bar {bar_class}"><span style="width:{pct}%"></span></div>'
        f'<div class="isg-progress-text">{job_line(job, what)}{why}{extra}{details_html(technical)}</div></div>'
    )
