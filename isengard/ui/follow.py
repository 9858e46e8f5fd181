"""Following a job from a UI generator: yields a fresh record at most every `interval` seconds."""

from __future__ import annotations

from collections.abc import Iterator

from isengard.jobs import JobEvent, JobRecord, JobRunner


def follow(
    runner: JobRunner, job_id: str, *, interval: float = 0.3
) -> Iterator[tuple[JobRecord, list[JobEvent]]]:
    yield from runner.follow(job_id, poll=interval)


def progress_html(job: JobRecord, *, extra: str = "") -> str:
    fraction = job.fraction
    pct = 0 if fraction is None else round(fraction * 100)
    bar_class = {"failed": "bad", "cancelled": "warn", "interrupted": "warn"}.get(job.status, "")
    summary = job.summary().replace("<", "&lt;")
    return (
        f'<div class="isg-progress" data-status="{job.status}" data-job="{job.id}">'
        f'<div class="isg-bar {bar_class}"><span style="width:{pct}%"></span></div>'
        f'<div class="isg-progress-text">{summary}{extra}</div></div>'
    )
