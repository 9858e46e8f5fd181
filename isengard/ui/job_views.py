"""How a job reads to a person: a progress bar, what is happening in words, and — when it stopped — why,
in a sentence, with the technical text behind "Details"."""

from __future__ import annotations

import html

from isengard.jobs import JobRecord
from isengard.jobs.reading import read

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
    """'Training Ada — in progress · step 40 of 1,000 · about 6 min left' (from the job's one reading)."""
    now = read(job)
    parts = [f"{html.escape(what or job.title)} — {STATUS_WORDS.get(job.status, job.status)}"]
    if now.where:
        parts.append(f"on {now.where}")
    if now.steps_text:
        parts.append(now.steps_text)
    elif job.status == "succeeded" and now.total and job.kind == "train":
        parts.append(f"{now.total:,} steps")
    if now.time_left:
        parts.append(now.time_left)
    if now.message:
        parts.append(html.escape(now.message))
    return " · ".join(parts)


def progress_html(job: JobRecord, *, extra: str = "", what: str | None = None) -> str:
    pct = read(job).percent or 0
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
