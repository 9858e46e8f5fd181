"""The process-wide job runner: a thread pool, a GPU lock, job records and progress events in SQLite.

Jobs go `queued → running → succeeded | failed | cancelled | interrupted`. Progress events are persisted
so a page reload, a second browser or the CLI (another process) can follow any job. Cancel is a flag the
plugin checks each step; it can also be requested from another process through the database.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from isengard.errors import InputError, IsengardError
from isengard.obs import current_correlation_id, event, use_correlation
from isengard.storage.db import Database, dumps, loads
from plugins.base import Cancelled, PluginError

TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
FLUSH_SECONDS = 0.25


@dataclass
class JobRecord:
    id: str
    kind: str
    title: str
    status: str
    correlation_id: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    progress: dict[str, Any]
    cancel_requested: bool
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def fraction(self) -> float | None:
        step, total = self.progress.get("step"), self.progress.get("total")
        if isinstance(step, int | float) and isinstance(total, int | float) and total > 0:
            return max(0.0, min(1.0, step / total))
        return 1.0 if self.status == "succeeded" else None

    def summary(self) -> str:
        """One line a person understands: what, how far, what happened."""
        parts = [f"{self.title} — {self.status}"]
        step, total = self.progress.get("step"), self.progress.get("total")
        if step is not None and total:
            parts.append(f"step {step}/{total}")
        if self.progress.get("eta_s") and self.status == "running":
            parts.append(f"about {format_seconds(self.progress['eta_s'])} left")
        if self.error and self.status in ("failed", "interrupted", "cancelled"):
            parts.append(self.error)
        elif self.progress.get("message") and not self.terminal:
            parts.append(str(self.progress["message"]))
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "status": self.status,
            "correlation_id": self.correlation_id,
            "params": self.params,
            "result": self.result,
            "error": self.error,
            "progress": self.progress,
            "cancel_requested": self.cancel_requested,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class JobEvent:
    job_id: str
    seq: int
    ts: float
    type: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "type": self.type, "data": self.data}


def format_seconds(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _owner_tag() -> str:
    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.3f}"


def _owner_alive(owner: str | None) -> bool:
    import psutil

    if not owner:
        return False
    try:
        host, pid, created = owner.rsplit(":", 2)
        if host != socket.gethostname() or not psutil.pid_exists(int(pid)):
            return False
        return abs(psutil.Process(int(pid)).create_time() - float(created)) < 0.01
    except (ValueError, psutil.Error):
        return False


Handler = Callable[["JobContext", dict[str, Any]], dict[str, Any] | None]


@dataclass
class JobKind:
    name: str
    handler: Handler
    uses_gpu: bool = True
    resumable: bool = False


class JobContext:
    """Given to a running job (and through it to plugins): progress, cancel, logging."""

    def __init__(self, runner: JobRunner, job: JobRecord):
        self.runner = runner
        self.job_id = job.id
        self.correlation_id = job.correlation_id
        self.kind = job.kind
        self._cancel = threading.Event()
        self._snapshot: dict[str, Any] = dict(job.progress)
        self._pending: list[tuple[float, str, dict[str, Any]]] = []
        self._last_flush = 0.0
        self._lock = threading.Lock()
        row = runner.db.one("SELECT max(seq) FROM job_events WHERE job_id=?", (job.id,))
        self._seq = (row[0] or 0) if row else 0

    # RunContext -------------------------------------------------------------------------------------
    def progress(self, **fields: Any) -> None:
        fields = {k: v for k, v in fields.items() if v is not None}
        important = any(k in fields for k in ("samples", "checkpoint", "message", "phase", "preview"))
        with self._lock:
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
        with self._lock:
            pending, self._pending = self._pending, []
            snapshot = dict(self._snapshot)
            self._last_flush = time.monotonic()
            rows = []
            for ts, type_, data in pending:
                self._seq += 1
                rows.append((self.job_id, self._seq, ts, type_, dumps(data)))
        if not rows:
            return
        with self.runner.db.transaction() as conn:
            conn.executemany("INSERT INTO job_events(job_id, seq, ts, type, data) VALUES (?,?,?,?,?)", rows)
            conn.execute(
                "UPDATE jobs SET progress=?, updated_at=? WHERE id=?",
                (dumps(snapshot), time.time(), self.job_id),
            )
        self.runner._notify()


class JobRunner:
    def __init__(self, db: Database, *, gpu_slots: int = 1, max_workers: int = 4):
        self.db = db
        self.gpu_slots = gpu_slots
        self._gpu = threading.BoundedSemaphore(gpu_slots)
        self._pool = ThreadPoolExecutor(max_workers=max(max_workers, gpu_slots + 1), thread_name_prefix="job")
        self._kinds: dict[str, JobKind] = {}
        self._contexts: dict[str, JobContext] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._owner = _owner_tag()

    # set-up -----------------------------------------------------------------------------------------
    def register(
        self, kind: str, handler: Handler, *, uses_gpu: bool = True, resumable: bool = False
    ) -> None:
        if kind in self._kinds:
            raise ValueError(f"job kind {kind!r} is already registered")
        self._kinds[kind] = JobKind(kind, handler, uses_gpu, resumable)

    def start(self) -> list[str]:
        """Mark jobs orphaned by a dead process as interrupted; start watching for cross-process cancels."""
        interrupted = self.recover()
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch_cancels, name="job-cancel-watch", daemon=True)
            self._watcher.start()
        return interrupted

    def shutdown(self, *, wait: bool = True, cancel_running: bool = True) -> None:
        self._stop.set()
        if cancel_running:
            for ctx in list(self._contexts.values()):
                ctx._cancel.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def recover(self) -> list[str]:
        ids = []
        for row in self.db.query("SELECT id, owner FROM jobs WHERE status IN ('queued','running')"):
            if row["owner"] == self._owner or _owner_alive(row["owner"]):
                continue
            self._finish(
                row["id"],
                "interrupted",
                error="Isengard stopped while this job was running. Resume it to continue from its last checkpoint.",
            )
            ids.append(row["id"])
        if ids:
            with use_correlation(None, service="worker"):
                event("job.recovered", f"{len(ids)} job(s) marked interrupted", jobs=ids)
        return ids

    # submitting and controlling ---------------------------------------------------------------------
    def submit(
        self, kind: str, params: dict[str, Any], *, title: str, correlation_id: str | None = None
    ) -> str:
        if kind not in self._kinds:
            raise ValueError(f"unknown job kind {kind!r}")
        job_id = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        cid = correlation_id or current_correlation_id()
        now = time.time()
        self.db.execute(
            "INSERT INTO jobs(id, kind, title, status, correlation_id, params, progress, owner, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (job_id, kind, title, "queued", cid, dumps(params), dumps({}), self._owner, now, now),
        )
        event("job.queued", f"{title} queued", job_id=job_id, kind=kind)
        self._pool.submit(self._run, job_id)
        self._notify()
        return job_id

    def cancel(self, job_id: str) -> bool:
        job = self.get(job_id)
        if job is None:
            raise InputError(f"There is no job {job_id}.")
        if job.terminal:
            return False
        self.db.execute("UPDATE jobs SET cancel_requested=1, updated_at=? WHERE id=?", (time.time(), job_id))
        ctx = self._contexts.get(job_id)
        if ctx is not None:
            ctx._cancel.set()
        event("job.cancel_requested", f"cancel requested for {job.title}", job_id=job_id)
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
        self.db.execute(
            "UPDATE jobs SET status='queued', cancel_requested=0, error=NULL, finished_at=NULL, params=?, owner=?,"
            " updated_at=? WHERE id=?",
            (dumps(params), self._owner, time.time(), job_id),
        )
        with use_correlation(correlation_id or job.correlation_id):
            event("job.resumed", f"{job.title} queued to resume", job_id=job_id)
        self._pool.submit(self._run, job_id)
        self._notify()
        return job_id

    # reading ----------------------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord | None:
        row = self.db.one("SELECT * FROM jobs WHERE id=?", (job_id,))
        return _record(row) if row else None

    def list(self, *, limit: int = 50, kinds: tuple[str, ...] | None = None) -> list[JobRecord]:
        if kinds:
            marks = ",".join("?" * len(kinds))
            rows = self.db.query(
                f"SELECT * FROM jobs WHERE kind IN ({marks}) ORDER BY created_at DESC LIMIT ?",
                (*kinds, limit),
            )
        else:
            rows = self.db.query("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))
        return [_record(r) for r in rows]

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

    # internals --------------------------------------------------------------------------------------
    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _watch_cancels(self) -> None:
        while not self._stop.wait(0.5):
            if not self._contexts:
                continue
            try:
                rows = self.db.query(
                    "SELECT id FROM jobs WHERE cancel_requested=1 AND status IN ('queued','running')"
                )
            except Exception:  # the database is closing
                continue
            for row in rows:
                ctx = self._contexts.get(row["id"])
                if ctx is not None and not ctx._cancel.is_set():
                    ctx._cancel.set()

    def _run(self, job_id: str) -> None:
        job = self.get(job_id)
        if job is None or job.status != "queued":
            return
        kind = self._kinds[job.kind]
        ctx = JobContext(self, job)
        self._contexts[job_id] = ctx
        if job.cancel_requested:
            ctx._cancel.set()
        with use_correlation(job.correlation_id, service="worker"):
            try:
                self._execute(job, kind, ctx)
            finally:
                self._contexts.pop(job_id, None)
                self._notify()

    def _execute(self, job: JobRecord, kind: JobKind, ctx: JobContext) -> None:
        acquired = False
        try:
            if kind.uses_gpu:
                if not self._gpu.acquire(blocking=False):
                    ctx.progress(message="Waiting for the GPU (another job is using it)")
                    event("job.waiting", f"{job.title} waiting for the GPU lock", job_id=job.id)
                    while not self._gpu.acquire(timeout=0.2):
                        if ctx.is_cancelled() or self._stop.is_set():
                            self._finish(job.id, "cancelled", error="Cancelled before it started.")
                            return
                acquired = True
            if ctx.is_cancelled():
                self._finish(job.id, "cancelled", error="Cancelled before it started.")
                return
            now = time.time()
            self.db.execute(
                "UPDATE jobs SET status='running', started_at=coalesce(started_at, ?), attempts=attempts+1,"
                " owner=?, updated_at=? WHERE id=?",
                (now, self._owner, now, job.id),
            )
            ctx.add_event("status", {"status": "running"})
            event(
                "job.started", f"{job.title} started", job_id=job.id, kind=job.kind, attempt=job.attempts + 1
            )
            started = time.monotonic()
            try:
                result = kind.handler(ctx, job.params) or {}
            except Cancelled as exc:
                ctx.flush()
                if self._stop.is_set():  # the studio is shutting down: resumable, not the user's cancel
                    self._finish(
                        job.id,
                        "interrupted",
                        error="Isengard was stopped during this job. "
                        "Resume it to continue from its last checkpoint.",
                    )
                    event("job.interrupted", f"{job.title} interrupted by shutdown", job_id=job.id)
                else:
                    self._finish(job.id, "cancelled", error=str(exc) or "Cancelled.")
                    event("job.cancelled", f"{job.title} cancelled", job_id=job.id, detail=str(exc))
            except (IsengardError, PluginError) as exc:
                ctx.flush()
                self._finish(job.id, "failed", error=str(exc))
                event("job.failed", f"{job.title} failed: {exc}", level="WARNING", job_id=job.id)
            except Exception as exc:
                ctx.flush()
                self._finish(job.id, "failed", error=f"Unexpected error: {type(exc).__name__}: {exc}")
                event(
                    "job.failed",
                    f"{job.title} failed with an unexpected error",
                    level="ERROR",
                    job_id=job.id,
                    error=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc()[-4000:],
                )
            else:
                ctx.flush()
                self._finish(job.id, "succeeded", result=result)
                event(
                    "job.succeeded",
                    f"{job.title} finished in {time.monotonic() - started:.1f}s",
                    job_id=job.id,
                    duration_s=round(time.monotonic() - started, 3),
                )
        finally:
            if acquired:
                self._gpu.release()

    def _finish(
        self, job_id: str, status: str, *, result: dict | None = None, error: str | None = None
    ) -> None:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT max(seq) FROM job_events WHERE job_id=?", (job_id,)).fetchone()
            conn.execute(
                "INSERT INTO job_events(job_id, seq, ts, type, data) VALUES (?,?,?,?,?)",
                (job_id, (row[0] or 0) + 1, now, "status", dumps({"status": status, "error": error})),
            )
            conn.execute(
                "UPDATE jobs SET status=?, result=coalesce(?, result), error=?, finished_at=?, updated_at=? WHERE id=?",
                (status, dumps(result) if result is not None else None, error, now, now, job_id),
            )
        ctx = self._contexts.get(job_id)
        if ctx is not None:
            ctx._seq += 1
        self._notify()


def _record(row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        status=row["status"],
        correlation_id=row["correlation_id"],
        params=loads(row["params"], {}),
        result=loads(row["result"]),
        error=row["error"],
        progress=loads(row["progress"], {}),
        cancel_requested=bool(row["cancel_requested"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
    )


__all__ = ["ACTIVE", "TERMINAL", "JobContext", "JobEvent", "JobRecord", "JobRunner", "format_seconds"]
