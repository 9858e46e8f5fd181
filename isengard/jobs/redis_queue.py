"""The studio's side of the Redis queue: a job's GPU work goes to whichever worker is free, and its
progress, Stop and ending come back into this process, the only writer of the database.

Why RQ: a GPU job here lasts minutes to hours. RQ takes a job off the queue atomically, once, and has no
visibility timeout that would hand an unfinished training to a second worker (Celery on a Redis broker
does, after its visibility timeout); a dead worker is noticed through heartbeats. On top, the job's lease
(see wire.py) makes "never twice at once" hold even across a network split.

The job stays in this process's thread while a worker runs it, so the services, the UI and the CLI see a
job exactly as they do without Redis. What can go wrong ends truthfully:
* no worker (of this version) is connected: the job says so while it waits;
* Redis is unreachable or restarted: the job says so, waits, and is handed out again when Redis is back;
* its worker dies (`kill -9`, machine gone): once the lease runs out the job goes back in line and the
  next worker resumes it from its last checkpoint (a resumable request is sent again with resume=True).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
from typing import Any

from isengard.jobs import wire
from isengard.obs import event
from plugins.base import Cancelled, PluginError

MAX_HAND_OUTS = 6  # a job that lost this many workers fails with the reason instead of going round


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


class Lost(Exception):
    """The run is gone without an ending (its worker died, Redis forgot it): hand the job out again.
    `seen`: the last of the job's events already relayed."""

    seen = "0"


class QueuePlacement:
    holds_local_gpu = False  # the worker holds its own GPU

    def __init__(self, url: str, token: str, data_id: str, roots: dict[str, str]):
        from isengard.jobs.worker_main import connect

        self.url = url
        self.redis = connect(url)
        self.token = token
        self.data_id = data_id
        self.roots = roots  # the studio's data and scratch folders (a worker without them mirrors them)
        self._published = False
        self._told_down: set[str] = set()  # jobs told that Redis cannot be reached (until it is back)

    # where GPU work runs ---------------------------------------------------------------------------
    def run(self, plugin: Any, request: Any, ctx: Any) -> Any:
        job_id = ctx.job_id
        seen = self._stream_end(job_id, ctx)  # what earlier runs of this job said is recorded already
        for _attempt in range(MAX_HAND_OUTS):
            run_id = f"{job_id}-{uuid.uuid4().hex[:10]}"  # never reused, whichever resume or attempt
            self._hand_out(run_id, plugin, request, ctx)
            try:
                return self._follow(run_id, ctx, seen)
            except Lost as exc:
                seen = exc.seen
                again = "from its last checkpoint" if hasattr(request, "resume") else "from the start"
                ctx.progress(message=f"{exc}: it goes back in line and continues {again}")
                event("queue.lost", f"{job_id} lost its run {run_id}: {exc}", level="WARNING", job_id=job_id)
                if hasattr(request, "resume"):
                    request = dataclasses.replace(request, resume=True)
        raise PluginError(f"This job lost {MAX_HAND_OUTS} GPU workers in a row; look at the workers' logs.")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.redis.close()

    # handing out ------------------------------------------------------------------------------------
    def publish(self) -> None:
        """Let workers check their token and data folder against this studio's (the token stays here)."""
        self.redis.set(wire.AUTH_KEY, wire.token_proof(self.token))
        self.redis.set(wire.STUDIO_KEY, json.dumps({"data_id": self.data_id, "version": wire.VERSION}))
        self._published = True

    def _hand_out(self, run_id: str, plugin: Any, request: Any, ctx: Any) -> None:
        from rq import Queue
        from rq.serializers import JSONSerializer

        head = {
            "run": run_id,
            "job": ctx.job_id,
            "cid": getattr(ctx, "correlation_id", None),
            "kind": plugin.kind,
            "plugin": plugin.name,
            "title": getattr(ctx, "title", "") or ctx.job_id,
            "roots": self.roots,
        }
        message = wire.seal(self.token, head, request)
        while True:
            try:
                if not self._published:
                    self.publish()
                with self.redis.pipeline() as pipe:
                    pipe.delete(wire.cancel_key(ctx.job_id), wire.result_key(run_id))
                    pipe.set(wire.watch_key(ctx.job_id), "1", ex=wire.WATCH_SECONDS)
                    pipe.execute()
                queue = Queue(wire.QUEUE, connection=self.redis, serializer=JSONSerializer)
                queue.enqueue(
                    "isengard.jobs.remote_worker.perform",
                    args=(message,),
                    job_id=run_id,
                    job_timeout=-1,
                    result_ttl=wire.KEEP_SECONDS,
                    failure_ttl=wire.KEEP_SECONDS,
                )
                event("queue.handed_out", f"{ctx.job_id} is in the GPU queue as {run_id}", job_id=ctx.job_id)
                self._told_down.discard(ctx.job_id)
                return
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise
                self._published = False
                self._unreachable(ctx, exc)
                ctx.check_cancelled()
                time.sleep(1)

    # following ----------------------------------------------------------------------------------------
    def _stream_end(self, job_id: str, ctx: Any) -> str:
        """The id of the job's last event so far ("0" when none, or when Redis cannot say yet)."""
        try:
            last = self.redis.xrevrange(wire.events_key(job_id), count=1)
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            return "0"
        return last[0][0].decode() if last else "0"

    def _follow(self, run_id: str, ctx: Any, seen: str = "0") -> Any:
        job_id = ctx.job_id
        last_event = seen
        said: str | None = None
        cancelled = False
        no_lease_since: float | None = None
        last_watch = 0.0
        while True:
            try:
                if ctx.is_cancelled() and not cancelled:
                    self.redis.set(wire.cancel_key(job_id), "1", ex=wire.KEEP_SECONDS)
                    cancelled = True
                if time.monotonic() - last_watch > wire.LEASE_RENEW_SECONDS:
                    self.redis.set(wire.watch_key(job_id), "1", ex=wire.WATCH_SECONDS)
                    last_watch = time.monotonic()
                last_event = self._relay(job_id, last_event, ctx)
                if job_id in self._told_down:
                    self._told_down.discard(job_id)
                    said = None
                    ctx.progress(message="The job queue is back")
                ending = self.redis.get(wire.result_key(run_id))
                if ending is not None:
                    self._relay(job_id, last_event, ctx, block=False)  # the last lines before the ending
                    return self._ended(json.loads(ending), ctx)
                if self.redis.exists(wire.lease_key(job_id)):
                    no_lease_since, said = None, None
                    continue
                waiting = self._waiting_line(run_id)
                if waiting is not None:  # still in line: say where, and that nobody takes it if so
                    no_lease_since = None
                    if waiting != said:
                        ctx.progress(message=waiting)
                        said = waiting
                    if cancelled:
                        self._withdraw(run_id)
                        raise Cancelled("Cancelled before it started.")
                    continue
                no_lease_since = no_lease_since or time.monotonic()
                if time.monotonic() - no_lease_since > wire.LEASE_SECONDS + 2:
                    if cancelled:
                        raise Cancelled("cancelled by the user")
                    raise Lost(self._why_lost(run_id))
            except Lost as exc:
                exc.seen = last_event  # the next run's follower goes on from here: nothing twice
                raise
            except Cancelled:
                raise
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise
                said = None
                no_lease_since = None  # nobody can take the lease while Redis is away
                self._published = False  # a restarted Redis has forgotten what workers check
                self._unreachable(ctx, exc)
                time.sleep(1)

    def _relay(self, job_id: str, after: str, ctx: Any, *, block: bool = True) -> str:
        """The worker's progress and log lines into this job (and so into the database)."""
        found = self.redis.xread({wire.events_key(job_id): after}, count=500, block=250 if block else None)
        for _, entries in found or []:
            for entry_id, fields in entries:
                after = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                kind = fields.get(b"t", b"").decode()
                data = json.loads(fields.get(b"d", b"{}"))
                if kind == "progress":
                    ctx.progress(**data)
                elif kind == "log":
                    ctx.log(data.pop("event", "worker.log"), data.pop("message", ""), **data)
                elif kind == wire.ENDED_MARK:  # its ending is written: no need to wait for more lines
                    return after
        return after

    def _ended(self, sealed: dict, ctx: Any) -> Any:
        try:
            head, result = wire.open_sealed(self.token, sealed)
        except wire.WireError as exc:
            event("queue.result_refused", f"{ctx.job_id}: {exc}", level="WARNING", job_id=ctx.job_id)
            raise Lost("A GPU worker answered without this studio's token") from None
        status, error = head.get("status"), head.get("error")
        if status == "succeeded":
            return result
        if status == "failed":
            raise PluginError(
                error or "The GPU worker could not run this job.",
                code=head.get("code") or "",
                details=head.get("details") or {},
            )
        if status == "cancelled" and ctx.is_cancelled():
            raise Cancelled(error or "cancelled by the user")
        raise Lost(f"Its GPU worker stopped ({error or status})")

    def _waiting_line(self, run_id: str) -> str | None:
        """What a job still in line says ("2nd in line · 1 of 2 workers busy"), None once a worker has it."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job
        from rq.serializers import JSONSerializer

        try:
            status = Job.fetch(run_id, connection=self.redis, serializer=JSONSerializer).get_status()
        except NoSuchJobError:
            raise Lost("The job queue forgot this job (Redis restarted)") from None
        if str(getattr(status, "value", status)) not in ("queued", "deferred", "scheduled"):
            return None
        workers = self.workers()
        ours = [w for w in workers if w.get("version") == wire.VERSION]
        if not ours:
            others = sorted({str(w.get("version")) for w in workers})
            if others:
                return (
                    f"Waiting for a GPU worker: {len(workers)} connected, but of another Isengard version "
                    f"({', '.join(others)})"
                )
            return "Waiting for a GPU worker: none is connected"
        from rq import Queue

        position = Queue(wire.QUEUE, connection=self.redis, serializer=JSONSerializer).get_job_position(
            run_id
        )
        busy = sum(1 for w in ours if w.get("job"))
        place = f"{ordinal(position + 1)} in line" if position is not None else "In line"
        return f"{place} · {busy} of {len(ours)} GPU worker{'s' if len(ours) != 1 else ''} busy"

    def _why_lost(self, run_id: str) -> str:
        from rq.job import Job
        from rq.serializers import JSONSerializer

        try:
            done = Job.fetch(run_id, connection=self.redis, serializer=JSONSerializer).return_value()
        except Exception:
            done = None
        if isinstance(done, dict) and done.get("status") == "refused":
            return "A GPU worker refused it (it does not have this studio's token)"
        return "Its GPU worker stopped answering"

    def _withdraw(self, run_id: str) -> None:
        from rq.job import Job
        from rq.serializers import JSONSerializer

        try:
            Job.fetch(run_id, connection=self.redis, serializer=JSONSerializer).cancel()
        except Exception as exc:
            event("queue.withdraw_failed", f"{run_id} not taken off the queue: {exc}", level="WARNING")

    def _unreachable(self, ctx: Any, exc: Exception) -> None:
        """Said once per outage (the job's message), logged once."""
        if ctx.job_id in self._told_down:
            return
        self._told_down.add(ctx.job_id)
        ctx.progress(message="The job queue cannot be reached: the job waits and goes on when it is back")
        event("queue.unreachable", f"{ctx.job_id}: Redis cannot be reached: {exc}", level="WARNING")

    # what Settings shows ------------------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        """Every worker that spoke in the last few seconds (its heartbeat), by name."""
        found = []
        for key in self.redis.scan_iter(match=wire.worker_key("*"), count=200):
            raw = self.redis.get(key)
            if raw:
                found.append(json.loads(raw))
        return sorted(found, key=lambda w: str(w.get("name")))

    def reachable(self) -> bool:
        try:
            return bool(self.redis.ping())
        except Exception:
            return False


def _is_connection_error(exc: BaseException) -> bool:
    import redis

    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | OSError)
