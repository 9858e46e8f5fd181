"""Following a job from a UI generator: yields a fresh record at most every `interval` seconds."""

from __future__ import annotations

from collections.abc import Iterator

from isengard.jobs import JobEvent, JobRecord, JobRunner
from isengard.ui.job_views import progress_html

__all__ = ["follow", "progress_html"]


def follow(
    runner: JobRunner, job_id: str, *, interval: float = 0.3
) -> Iterator[tuple[JobRecord, list[JobEvent]]]:
    yield from runner.follow(job_id, poll=interval)
