"""What a running job (and through it a plugin) is given: progress, cancel, logging."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from isengard.jobs.eta import EtaSmoother
from isengard.obs import event
from isengard.storage.db import dumps
from plugins.base import Cancelled

if TYPE_CHECKING:
    from collections.abc import Callable

    from isengard.device import GpuPlace
    from isengard.jobs.placement import Placement
    from isengard.jobs.records import JobRecord
    from isengard.storage.db import Database

FLUSH_SECONDS = 0.25


# fields that belong to one phase of a job: a new phase drops those it does not send again (the estimate
# stays while the pace does: a sample pass between training steps keeps training's)
PHASE_FIELDS = ("message", "sample_index", "sample_total", "sample_step")
ESTIMATE_FIELDS = ("eta_s", "eta_raw_s", "eta_settled")


def _pace(phase: str | None) -> str | None:
    return "training" if phase == "sampling" else phase


class JobContext:
    def __init__(
        self, db: Database, job: JobRecord, *, notify: Callable[[], None], placement: Placement | None = None
    ):
        self.db = db
        self._notify = notify  # followers of the job wake up when its events are written
        self.placement = placement  # where its GPU work runs (isengard.jobs.placement)
        self.job_id = job.id
        self.title = job.title
        self.correlation_id = job.correlation_id
        self.kind = job.kind
        self._cancel = threading.Event()
        self._snapshot: dict[str, Any] = dict(job.progress)
        self._pending: list[tuple[float, str, dict[str, Any]]] = []
        self._last_flush = 0.0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._eta = EtaSmoother()
        self.place: GpuPlace | None = None  # the GPU this job holds (set when it gets its slot)
        row = db.one("SELECT max(seq) FROM job_events WHERE job_id=?", (job.id,))
        self._seq = (row[0] or 0) if row else 0

    @property
    def device(self) -> str | None:
        """Where this job's models go ("cuda:1"); None: the default device (a CPU, or the only GPU)."""
        return self.place.device if self.place is not None else None

    # RunContext -------------------------------------------------------------------------------------
    def progress(self, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        new_phase = "phase" in fields and fields["phase"] != self._snapshot.get("phase")
        new_pace = new_phase and _pace(fields["phase"]) != _pace(self._snapshot.get("phase"))
        if new_pace:
            self._eta.reset()  # new work (download → training) has its own pace; samples are training's
        if isinstance(fields.get("eta_s"), int | float):  # what every reader shows: steady, not jumpy
            fields["eta_raw_s"] = fields["eta_s"]
            fields["eta_s"] = self._eta.update(fields["eta_s"])
            fields["eta_settled"] = self._eta.settled
        important = any(k in fields for k in ("samples", "checkpoint", "message", "phase", "preview"))
        with self._lock:
            if new_phase:  # what the last phase said is over: it must not linger into this one
                for key in PHASE_FIELDS + ESTIMATE_FIELDS if new_pace else PHASE_FIELDS:
                    if key not in fields:
                        self._snapshot.pop(key, None)
            self._snapshot.update(fields)
            self._pending.append((time.time(), "progress", fields))
            due = important or time.monotonic() - self._last_flush >= FLUSH_SECONDS
        if due:
            self.flush()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled by the user")

    def log(self, event_name: str, message: str, **context: Any) -> None:
        event(event_name, message, job_id=self.job_id, **context)

    # runner side ------------------------------------------------------------------------------------
    def add_event(self, type_: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append((time.time(), type_, data))
        self.flush()

    @property
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._snapshot)

    def flush(self) -> None:
        """Write pending events. A failed write keeps them pending and raises: the job then fails. One
        flush at a time: a plugin reporting from several threads (parallel uploads) would otherwise number
        two batches of events alike."""
        with self._flush_lock:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            pending = list(self._pending)
            snapshot = dict(self._snapshot)
            self._last_flush = time.monotonic()
            rows = [
                (self.job_id, self._seq + i, ts, type_, dumps(data))
                for i, (ts, type_, data) in enumerate(pending, 1)
            ]
        if not rows:
            return
        with self.db.transaction() as conn:
            conn.executemany("INSERT INTO job_events(job_id, seq, ts, type, data) VALUES (?,?,?,?,?)", rows)
            conn.execute(
                "UPDATE jobs SET progress=?, updated_at=? WHERE id=?",
                (dumps(snapshot), time.time(), self.job_id),
            )
        with self._lock:
            self._seq += len(rows)
            del self._pending[: len(rows)]
        self._notify()

    def try_flush(self) -> None:
        """Flush if the database lets us; the job's end is recorded either way."""
        try:
            self.flush()
        except Exception as exc:
            event("job.flush_failed", f"progress of {self.job_id} not saved: {exc}", level="WARNING")
