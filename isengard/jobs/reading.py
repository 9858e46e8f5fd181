"""How far a job is, read once from its record, for every view — the Training panel, the header's activity
line, Settings → jobs, Image Gen's queue line, the CLI: the same step, share and time left everywhere, so
two views of one job never disagree about what they both show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # records.py reads jobs through this module
    from isengard.jobs.records import JobRecord

PREPARING = ("preparing", "downloading")  # first-use work: its bar shows bytes or parts, not "steps"


def minutes(seconds: float) -> str:
    """'about 6 min' / 'under a minute' / 'about 1 h 20 min': what a person wants from an estimate."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return "under a minute"
    whole = round(seconds / 60)
    if whole < 60:
        return f"about {whole} min"
    return f"about {whole // 60} h {whole % 60:02d} min"


@dataclass(frozen=True)
class Reading:
    status: str
    preparing: bool
    step: int | None
    total: int | None
    percent: int | None  # 0–100, None when the share is not known
    time_left: str | None  # "about 6 min left", "estimating the time left", or None
    message: str | None  # what the current phase is doing, in words (never a past phase's)
    where: str | None = None  # "GPU 2 of 4" while it runs on a machine with several GPUs

    @property
    def steps_text(self) -> str | None:
        """'step 40 of 1,000' while it runs (not during first-use work, whose numbers are bytes)."""
        if self.step is None or not self.total or self.preparing or self.status not in ("queued", "running"):
            return None
        return f"step {self.step:,} of {self.total:,}"


def read(job: JobRecord) -> Reading:
    p = job.progress or {}
    step, total = p.get("step"), p.get("total")
    fraction = job.fraction
    time_left = None
    if job.status == "running" and p.get("eta_s"):
        settled = p.get("eta_settled", True)  # records from before the rule have no flag: shown as they are
        time_left = f"{minutes(p['eta_s'])} left" if settled else "estimating the time left"
    return Reading(
        status=job.status,
        preparing=p.get("phase") in PREPARING,
        step=int(step) if isinstance(step, int | float) else None,
        total=int(total) if isinstance(total, int | float) else None,
        percent=None if fraction is None else round(fraction * 100),
        time_left=time_left,
        message=str(p["message"]) if p.get("message") and not job.terminal else None,
        where=_where(p) if job.status == "running" else None,
    )


def _where(progress: dict) -> str | None:
    """ "GPU 2 of 4" on a machine with several; "worker box-b (NVIDIA L4)" through a job queue."""
    if progress.get("worker"):
        place = progress.get("worker_place")
        return f"worker {progress['worker']}" + (f" ({place})" if place else "")
    gpu, gpus = progress.get("gpu"), progress.get("gpus")
    if isinstance(gpu, int) and isinstance(gpus, int) and gpus > 1:
        return f"GPU {gpu} of {gpus}"
    return None
