"""The process-wide job runner: thread pools, the machine-wide GPU lock, job records and events in SQLite.

Jobs go `queued → running → succeeded | failed | cancelled | interrupted`. Progress events are persisted
so a page reload, a second browser or the CLI (another process) can follow any job. Cancel is a flag the
plugin checks each step; it can also be requested from another process through the database.

The promises: every job ends in a state that tells the truth. An exception anywhere — the handler, the
runner's own writes (full disk, read-only folder, busy database) — ends the job as `failed` with a plain
reason; if even that cannot be written, this process keeps the ending and writes it when it can, and
other processes see the job's heartbeat stop. A job whose owning process died reads as `interrupted` to
every reader. GPU work takes a slot of the machine-wide GPU lock; CPU work has its own pool and never waits
behind it.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isengard import device
from isengard.device import GpuPlace
from isengard.errors import InputError, IsengardError, storage_failure_reason
from isengard.gpu_lock import GpuLock
from isengard.jobs.book import JobBook
from isengard.jobs.context import JobContext
from isengard.jobs.endings import Ending, EndingSlots
from isengard.jobs.liveness import (
    HEARTBEAT_SECONDS,
    owner_tag,
)
from isengard.jobs.placement import LOCAL, Placement
from isengard.jobs.records import ACTIVE, TERMINAL, JobEvent, JobRecord, record_from_row
from isengard.obs import current_correlation_id, event, use_correlation
from isengard.storage.db import Database, dumps, loads
from plugins.base import Cancelled, PluginError

Handler = Callable[[JobContext, dict[str, Any]], dict[str, Any] | None]


@dataclass
class JobKind:
    name: str
    handler: Handler
    uses_gpu: bool | Callable[[dict[str, Any]], bool] = True
    resumable: bool = False

    def needs_gpu(self, params: dict[str, Any]) -> bool:
        return bool(self.uses_gpu(params) if callable(self.uses_gpu) else self.uses_gpu)


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, IsengardError | PluginError):
        return str(exc)
    return storage_failure_reason(exc) or f"Unexpected error: {type(exc).__name__}: {exc}"


class JobRunner(JobBook):
    def __init__(
        self,
        db: Database,
        *,
        gpu_slots: int = 1,
        max_workers: int = 4,
        lock_dir: Path | None = None,
        gpus: Callable[[], Sequence[GpuPlace]] | None = None,
        placement: Placement | None = None,
    ):
        self.db = db
        self.gpu_slots = gpu_slots
        self._gpus = gpus or (lambda: device.list_gpus())  # slot i runs on GPU i (of those there are)
        self.placement: Placement = placement or LOCAL  # where GPU work runs: here, or through a queue
        self.gpu_lock = GpuLock(lock_dir or Path(db.path).parent / "locks", gpu_slots)
        self._gpu_pool = ThreadPoolExecutor(
            max_workers=max(max_workers, gpu_slots + 1), thread_name_prefix="gpu-job"
        )
        self._cpu_pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cpu-job")
        self._kinds: dict[str, JobKind] = {}
        self._contexts: dict[str, JobContext] = {}
        self._live: set[str] = set()  # queued or running here, heartbeat written for them
        self._unsaved: dict[str, Ending] = {}  # endings the database refused; written when it can
        self._state_lock = threading.Lock()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._owner = owner_tag()
        self._slots = EndingSlots(Path(db.path).parent / "endings")  # see isengard/jobs/endings.py

    # set-up -----------------------------------------------------------------------------------------
    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        uses_gpu: bool | Callable[[dict[str, Any]], bool] = True,
        resumable: bool = False,
    ) -> None:
        if kind in self._kinds:
            raise ValueError(f"job kind {kind!r} is already registered")
        self._kinds[kind] = JobKind(kind, handler, uses_gpu, resumable)

    def start(self) -> list[str]:
        """Mark jobs orphaned by a dead process as interrupted; start the heartbeat and cancel watcher."""
        interrupted = self.recover()
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="job-watch", daemon=True)
            self._watcher.start()
        return interrupted

    def shutdown(self, *, wait: bool = True, cancel_running: bool = True) -> None:
        self._stop.set()
        if cancel_running:
            for ctx in list(self._contexts.values()):
                ctx._cancel.set()
        self._gpu_pool.shutdown(wait=wait, cancel_futures=True)
        self._cpu_pool.shutdown(wait=wait, cancel_futures=True)
        self.placement.close()
        self._write_unsaved()
        with self._state_lock:
            stranded = [job_id for job_id in self._live if job_id not in self._contexts]
        for job_id in stranded:  # queued here but never started: the next start may resume them
            self._finish(job_id, "interrupted", error="Isengard was stopped before this job started.")

    # submitting and controlling ---------------------------------------------------------------------
    def submit(
        self, kind: str, params: dict[str, Any], *, title: str, correlation_id: str | None = None
    ) -> str:
        if kind not in self._kinds:
            raise ValueError(f"unknown job kind {kind!r}")
        job_id = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}"
        cid = correlation_id or current_correlation_id()
        now = time.time()
        self.db.execute(
            "INSERT INTO jobs(id, kind, title, status, correlation_id, params, progress, owner, created_at,"
            " updated_at, heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (job_id, kind, title, "queued", cid, dumps(params), dumps({}), self._owner, now, now, now),
        )
        event("job.queued", f"{title} queued", job_id=job_id, kind=kind)
        self._enqueue(job_id, self._kinds[kind], params)
        return job_id

    def _enqueue(self, job_id: str, kind: JobKind, params: dict[str, Any]) -> None:
        with self._state_lock:
            self._live.add(job_id)
        pool = self._gpu_pool if kind.needs_gpu(params) else self._cpu_pool
        pool.submit(self._run, job_id)
        self._notify()

    def cancel(self, job_id: str) -> bool:
        job = self.get(job_id)
        if job is None:
            raise InputError(f"There is no job {job_id}.")
        if job.terminal:
            return False
        ctx = self._contexts.get(job_id)
        if ctx is not None:
            ctx._cancel.set()  # in memory first: it works even when the database cannot be written
        event("job.cancel_requested", f"cancel requested for {job.title}", job_id=job_id)
        if ctx is None and job.owner == self._owner:
            # queued here and not started yet: it ends now instead of when a worker reaches it
            self._finish(job_id, "cancelled", error="Cancelled before it started.")
            return True
        try:
            self.db.execute(
                "UPDATE jobs SET cancel_requested=1, updated_at=? WHERE id=?", (time.time(), job_id)
            )
        except Exception as exc:
            if ctx is None:
                raise IsengardError(failure_reason(exc)) from None
            event("job.cancel_unsaved", f"cancel of {job_id} not saved: {exc}", level="WARNING")
        self._notify()
        return True

    def resume(self, job_id: str, correlation_id: str | None = None) -> str:
        job = self.get(job_id)
        if job is None:
            raise InputError(f"There is no job {job_id}.")
        kind = self._kinds.get(job.kind)
        if kind is None or not kind.resumable:
            raise InputError(f"{job.title} cannot be resumed; start it again instead.")
        if job.status not in ("interrupted", "cancelled", "failed"):
            raise InputError(f"{job.title} is {job.status}; only stopped jobs can be resumed.")
        params = dict(job.params) | {"resume": True}
        now = time.time()
        cursor = self.db.execute(
            "UPDATE jobs SET status='queued', cancel_requested=0, error=NULL, finished_at=NULL, params=?, owner=?,"
            " updated_at=?, heartbeat_at=? WHERE id=? AND status=?",
            (dumps(params), self._owner, now, now, job_id, job.stored_status or job.status),
        )
        if not cursor.rowcount:
            raise InputError(f"{job.title} changed meanwhile (another window resumed it?); look again.")
        with self._state_lock:
            self._unsaved.pop(job_id, None)
        with use_correlation(correlation_id or job.correlation_id):
            event("job.resumed", f"{job.title} queued to resume", job_id=job_id)
        self._enqueue(job_id, kind, params)
        return job_id

    def update_params(self, job_id: str, changes: dict[str, Any]) -> None:
        """Change what a job was asked to do while it runs (a training that steps down after an
        out-of-memory keeps its lighter settings for a later Resume)."""
        job = self.get(job_id)
        if job is None:
            raise InputError(f"There is no job {job_id}.")
        params = dict(job.params) | changes
        self.db.execute(
            "UPDATE jobs SET params=?, updated_at=? WHERE id=?", (dumps(params), time.time(), job_id)
        )
        event("job.params_changed", f"{job.title}: {', '.join(sorted(changes))} changed", job_id=job_id)

    def step_aside(self, job_id: str, for_id: str) -> bool:
        """Stop a resumable job so `for_id` goes first, and resume it once `for_id` has ended (a
        generation asked to go before a long training). False when `job_id` cannot step aside."""
        job = self.get(job_id)
        kind = self._kinds.get(job.kind) if job else None
        if job is None or job.terminal or kind is None or not kind.resumable:
            return False
        cid = current_correlation_id()
        event("job.step_aside", f"{job.title} pauses so {for_id} goes first", job_id=job_id, for_job=for_id)
        self.cancel(job_id)

        def come_back() -> None:
            with use_correlation(cid):
                try:
                    self.wait(job_id, timeout=None)
                    self.wait(for_id, timeout=None)
                    if (self.get(job_id) or job).status == "cancelled" and not self._stop.is_set():
                        self.resume(job_id)
                except IsengardError as exc:  # resumed meanwhile by someone else, or removed
                    event("job.step_aside_skipped", f"{job.title} not resumed: {exc}", job_id=job_id)

        threading.Thread(target=come_back, name=f"resume-after-{for_id}", daemon=True).start()
        return True

    # reading ----------------------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord | None:
        row = self.db.one("SELECT * FROM jobs WHERE id=?", (job_id,))
        return self._view(record_from_row(row)) if row else None

    def list(self, *, limit: int = 50, kinds: tuple[str, ...] | None = None) -> list[JobRecord]:
        if kinds:
            marks = ",".join("?" * len(kinds))
            rows = self.db.query(
                f"SELECT * FROM jobs WHERE kind IN ({marks}) ORDER BY created_at DESC LIMIT ?",
                (*kinds, limit),
            )
        else:
            rows = self.db.query("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))
        return [self._view(record_from_row(r)) for r in rows]

    def events(self, job_id: str, *, after: int = 0, type_: str | None = None) -> list[JobEvent]:
        sql = "SELECT * FROM job_events WHERE job_id=? AND seq>?"
        args: list[Any] = [job_id, after]
        if type_:
            sql += " AND type=?"
            args.append(type_)
        return [
            JobEvent(r["job_id"], r["seq"], r["ts"], r["type"], loads(r["data"], {}))
            for r in self.db.query(sql + " ORDER BY seq", args)
        ]

    def follow(
        self, job_id: str, *, poll: float = 0.25, timeout: float | None = None
    ) -> Iterator[tuple[JobRecord, list[JobEvent]]]:
        """Yield (record, new events) until the job ends. Works from any process (it reads the database)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while True:
            job = self.get(job_id)
            if job is None:
                raise InputError(f"There is no job {job_id}.")
            new = self.events(job_id, after=seen)
            if new:
                seen = new[-1].seq
            yield job, new
            if job.terminal:
                return
            if deadline is not None and time.monotonic() > deadline:
                return
            with self._changed:
                self._changed.wait(poll)

    def wait(self, job_id: str, timeout: float | None = None) -> JobRecord:
        last = None
        for record, _ in self.follow(job_id, timeout=timeout):
            last = record
        assert last is not None
        return last

    def active_for(self, key: str, value: Any, kinds: tuple[str, ...] | None = None) -> list[JobRecord]:
        """Jobs not yet ended whose params[key] == value (e.g. a character's training)."""
        rows = self.db.query(
            "SELECT * FROM jobs WHERE status IN ('queued','running') AND json_extract(params, ?) = ?",
            (f"$.{key}", value),
        )
        jobs = [self._view(record_from_row(r)) for r in rows]
        return [j for j in jobs if not j.terminal and (kinds is None or j.kind in kinds)]

    # internals --------------------------------------------------------------------------------------
    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _watch(self) -> None:
        """Cross-process cancels every half second; heartbeats and unsaved endings every few seconds."""
        last_beat = 0.0
        while not self._stop.wait(0.5):
            if self._live:
                self._pick_up_cancels()
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                self._heartbeat()
                self._write_unsaved()

    def _pick_up_cancels(self) -> None:
        try:
            rows = self.db.query(
                "SELECT id FROM jobs WHERE cancel_requested=1 AND status IN ('queued','running') AND owner=?",
                (self._owner,),
            )
        except Exception:  # the database is closing or unreadable; the next round tries again
            return
        for row in rows:
            ctx = self._contexts.get(row["id"])
            if ctx is not None:
                ctx._cancel.set()
            elif row["id"] in self._live:  # still waiting for a worker: it ends now, not when one is free
                self._finish(row["id"], "cancelled", error="Cancelled before it started.")

    def _run(self, job_id: str) -> None:
        try:
            job = self.get(job_id)
            if job is None or job.status != "queued":
                return
            with use_correlation(job.correlation_id, service="worker"):
                self._run_job(job)
        except Exception as exc:  # the runner's own failure: the job still ends, with the reason
            event(
                "job.runner_error",
                f"the job runner failed on {job_id}: {exc}",
                level="ERROR",
                job_id=job_id,
                traceback=traceback.format_exc()[-4000:],
            )
            self._finish(job_id, "failed", error=failure_reason(exc))
        finally:
            with self._state_lock:
                self._live.discard(job_id)
            self._contexts.pop(job_id, None)
            self._notify()

    def _run_job(self, job: JobRecord) -> None:
        kind = self._kinds[job.kind]
        ctx = JobContext(self.db, job, notify=self._notify, placement=self.placement)
        self._contexts[job.id] = ctx
        if job.cancel_requested:
            ctx._cancel.set()
        slot = None
        try:
            if kind.needs_gpu(job.params) and self.placement.holds_local_gpu:
                slot = self.gpu_lock.acquire(
                    {"job_id": job.id, "title": job.title},
                    should_stop=lambda: ctx.is_cancelled() or self._stop.is_set(),
                    on_wait=lambda holders: self._waiting(ctx, job, holders),
                )
                if slot is None:
                    self._finish(job.id, "cancelled", error="Cancelled before it started.")
                    return
                self._seat(ctx, job, slot.index)
            if ctx.is_cancelled():
                self._finish(job.id, "cancelled", error="Cancelled before it started.")
                return
            self._execute(job, kind, ctx)
        finally:
            if slot is not None:
                self.gpu_lock.release(slot)

    def _seat(self, ctx: JobContext, job: JobRecord, slot: int) -> None:
        """Slot i is GPU i (round the GPUs when there are more slots than GPUs): the job's models go there,
        and a machine with several GPUs says which one it runs on."""
        places = list(self._gpus())
        if not places or slot < 0:
            return
        ctx.place = places[slot % len(places)]
        if len(places) > 1:
            ctx.progress(gpu=ctx.place.index + 1, gpus=len(places))
        event("job.gpu", f"{job.title} runs on {ctx.place.device}", job_id=job.id, device=ctx.place.device)

    def _waiting(self, ctx: JobContext, job: JobRecord, holders: list[dict[str, Any]]) -> None:
        titles = [h["title"] for h in holders if h.get("title")]
        places = list(self._gpus())
        if self.gpu_slots > 1 and len(places) > 1:
            busy = [f"{h['title']} on GPU {h['slot'] % len(places) + 1}" for h in holders if h.get("title")]
            message = f"Waiting for a free GPU: all {len(places)} are busy" + (
                f" ({'; '.join(busy)})" if busy else ""
            )
        elif self.gpu_slots > 1:
            message = f"Waiting for its turn: {self.gpu_slots} jobs are running" + (
                f" ({'; '.join(titles)})" if titles else ""
            )
        elif titles:
            message = f"Waiting for its turn: {titles[0]} is running"
        else:
            message = "Waiting for its turn (another job is running)"
        ctx.progress(message=message)
        event("job.waiting", f"{job.title} waiting for the GPU lock", job_id=job.id, holders=holders)

    def _execute(self, job: JobRecord, kind: JobKind, ctx: JobContext) -> None:
        now = time.time()
        cursor = self.db.execute(
            "UPDATE jobs SET status='running', started_at=coalesce(started_at, ?), attempts=attempts+1,"
            " owner=?, updated_at=?, heartbeat_at=? WHERE id=? AND status='queued'",
            (now, self._owner, now, now, job.id),
        )
        if not cursor.rowcount:  # cancelled while it waited for a worker: it has ended already
            return
        if not self._slots.reserve(job.id):
            event(
                "job.no_ending_slot", f"no space to reserve {job.id}'s ending", level="WARNING", job_id=job.id
            )
        ctx.add_event("status", {"status": "running"})
        event("job.started", f"{job.title} started", job_id=job.id, kind=job.kind, attempt=job.attempts + 1)
        started = time.monotonic()
        try:
            result = kind.handler(ctx, job.params) or {}
            ctx.flush()
        except Cancelled as exc:
            ctx.try_flush()
            if self._stop.is_set():  # the studio is shutting down: resumable, not the user's cancel
                self._finish(
                    job.id,
                    "interrupted",
                    error="Isengard was stopped during this job. Resume it to continue from its last checkpoint.",
                )
                event("job.interrupted", f"{job.title} interrupted by shutdown", job_id=job.id)
            else:
                self._finish(job.id, "cancelled", error=str(exc) or "Cancelled.")
                event("job.cancelled", f"{job.title} cancelled", job_id=job.id, detail=str(exc))
        except (IsengardError, PluginError) as exc:
            ctx.try_flush()
            self._finish(job.id, "failed", error=str(exc))
            event("job.failed", f"{job.title} failed: {exc}", level="WARNING", job_id=job.id)
        except Exception as exc:
            ctx.try_flush()
            self._finish(job.id, "failed", error=failure_reason(exc))
            if storage_failure_reason(exc):  # a full or read-only disk: a fault of the machine, not a bug
                event(
                    "job.failed",
                    f"{job.title} failed: {storage_failure_reason(exc)}",
                    level="WARNING",
                    job_id=job.id,
                    error=f"{type(exc).__name__}: {exc}",
                )
                return
            event(
                "job.failed",
                f"{job.title} failed with an unexpected error",
                level="ERROR",
                job_id=job.id,
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc()[-4000:],
            )
        else:
            self._finish(job.id, "succeeded", result=result)
            event(
                "job.succeeded",
                f"{job.title} finished in {time.monotonic() - started:.1f}s",
                job_id=job.id,
                duration_s=round(time.monotonic() - started, 3),
            )


__all__ = ["ACTIVE", "TERMINAL", "JobRunner", "failure_reason"]
