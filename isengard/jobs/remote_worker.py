"""A GPU worker: takes plugin runs off the Redis queue (RQ) and runs them on its GPU, with the studio's
plugins, presets and correlation ids. It writes no database: progress and logs go back on a Redis stream,
files land in the data folder it shares with the studio, and the studio records everything.

One worker process serves one GPU (`python -m isengard worker --gpus 0,1` starts one per GPU) and keeps its
plugins between jobs, so a second training on the same base finds it still loaded. See isengard/jobs/wire.py
for the keys and why a job never runs twice at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from isengard.device import GpuPlace
from isengard.errors import IsengardError
from isengard.jobs import wire
from isengard.jobs.runner import failure_reason
from isengard.jobs.worker_files import Mirror, fetch_error
from isengard.obs import event, use_correlation
from plugins.base import Cancelled, PluginError

# renew the lease only while it is ours; take it back if Redis lost it (a restart); else it is lost
RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not holder then return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') and 1 or 0 end
return -1
"""
CANCEL_POLL_SECONDS = 0.25
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass
class Worker:
    """What `perform` needs in this process (set once by `serve`)."""

    name: str
    redis: Any
    token: str
    registry: Any
    place: GpuPlace | None
    running: dict[str, Any] = field(default_factory=dict)  # the job it runs now, for its heartbeat
    stopping: threading.Event = field(default_factory=threading.Event)
    current: RemoteRunContext | None = None
    server: str | None = None  # the studio's address, for a worker that shares no disk with it
    local_roots: dict[str, Any] = field(default_factory=dict)  # this worker's data and scratch folders


CURRENT: Worker | None = None


class RemoteRunContext:
    """The RunContext a plugin gets on a worker: progress and logs go to the studio's stream; Stop, the
    studio going away, the lease being lost or the worker being stopped all end the run at its next step."""

    def __init__(self, worker: Worker, job_id: str, correlation_id: str):
        self.worker = worker
        self.redis = worker.redis
        self.job_id = job_id
        self.correlation_id = correlation_id
        self.place = worker.place
        self._stop = threading.Event()
        self.why: str | None = None
        self.ending = "cancelled"
        self._unsent: list[dict[str, str]] = []
        self._asked = 0.0
        self.mirror = None  # worker_files.Mirror when this worker shares no disk with the studio
        self.run_dir = None  # what a checkpoint sends back with it (the state a resume needs)
        self._lock = threading.Lock()

    @property
    def device(self) -> str | None:
        return self.place.device if self.place is not None else None

    def progress(self, **fields: Any) -> None:
        if self.mirror is not None:  # the files an event names reach the studio before the event
            if "checkpoint" in fields and self.run_dir is not None:
                self.mirror.push(self.run_dir)
            fields = self.mirror.globalize(fields)
        self._send({"t": "progress", "d": json.dumps(fields, default=str)})

    def log(self, event_name: str, message: str, **context: Any) -> None:
        event(event_name, message, job_id=self.job_id, **context)
        self._send(
            {"t": "log", "d": json.dumps({"event": event_name, "message": message, **context}, default=str)}
        )

    def is_cancelled(self) -> bool:
        """Asked every step: Stop is looked up in Redis at most four times a second (the lease keeper
        also looks, every two seconds, for a plugin that does not ask)."""
        if not self._stop.is_set() and time.monotonic() - self._asked >= CANCEL_POLL_SECONDS:
            self._asked = time.monotonic()
            with contextlib.suppress(Exception):
                if self.redis.exists(wire.cancel_key(self.job_id)):
                    self.stop("cancelled by the user")
        return self._stop.is_set()

    def check_cancelled(self) -> None:
        if self.is_cancelled():
            raise Cancelled(self.why or "cancelled by the user")

    def stop(self, why: str, ending: str = "cancelled") -> None:
        if not self._stop.is_set():
            self.why, self.ending = why, ending
            self._stop.set()
            event("worker.stop", f"stopping {self.job_id}: {why}", job_id=self.job_id, ending=ending)

    def _send(self, entry: dict[str, str]) -> None:
        with self._lock:
            self._unsent.append(entry)
        self.flush()

    def flush(self) -> None:
        """Send what is waiting, in order; while Redis is away it waits here and goes when Redis is back."""
        with self._lock:
            waiting, self._unsent = self._unsent, []
            try:
                with self.redis.pipeline() as pipe:
                    for entry in waiting:
                        pipe.xadd(wire.events_key(self.job_id), entry, maxlen=20000, approximate=True)
                    pipe.expire(wire.events_key(self.job_id), wire.KEEP_SECONDS)
                    pipe.execute()
            except Exception as exc:  # redis.ConnectionError and friends: keep it for the next try
                self._unsent = waiting + self._unsent
                if len(self._unsent) > 50_000:  # a very long outage: the oldest progress is dropped
                    del self._unsent[:10_000]
                event(
                    "worker.events_unsent",
                    f"{len(self._unsent)} event(s) wait for Redis: {exc}",
                    level="DEBUG",
                )


def _keep(worker: Worker, rctx: RemoteRunContext, done: threading.Event) -> None:
    """Every two seconds while the run lasts: renew the lease, pick up Stop, notice the studio left."""
    lost_since: float | None = None
    while not done.wait(wire.LEASE_RENEW_SECONDS):
        try:
            held = worker.redis.eval(
                RENEW, 1, wire.lease_key(rctx.job_id), worker.name, wire.LEASE_SECONDS * 1000
            )
            if held == -1:
                rctx.stop("another worker took this job over", ending="interrupted")
            elif worker.redis.exists(wire.cancel_key(rctx.job_id)):
                rctx.stop("cancelled by the user")
            elif not worker.redis.exists(wire.watch_key(rctx.job_id)):
                rctx.stop("the studio stopped following this job", ending="interrupted")
            lost_since = None
            rctx.flush()
        except Exception as exc:  # Redis away: go on while the lease would still be ours
            lost_since = lost_since or time.monotonic()
            event("worker.redis_unreachable", f"renewing {rctx.job_id}'s lease: {exc}", level="WARNING")
            if time.monotonic() - lost_since > wire.LEASE_SECONDS * 0.8:
                # Redis may be fine for the studio (a split network): past its lease another worker may
                # take the job over, so this run stops before then — never two at once
                rctx.stop("this worker lost contact with the job queue", ending="interrupted")
        if worker.stopping.is_set():
            rctx.stop("the worker was stopped", ending="interrupted")


def _take_lease(worker: Worker, job_id: str) -> bool:
    """The job's lease, waiting out a worker that still holds it (it stops when its lease is gone)."""
    deadline = time.monotonic() + 3 * wire.LEASE_SECONDS
    while time.monotonic() < deadline:
        if worker.redis.set(wire.lease_key(job_id), worker.name, nx=True, px=wire.LEASE_SECONDS * 1000):
            return True
        time.sleep(0.5)
    return False


def perform(message: dict[str, Any]) -> dict[str, str]:
    """RQ's job function on the worker: open the signed request, run the plugin, seal the ending."""
    worker = CURRENT
    if worker is None:
        raise RuntimeError("perform() runs only inside `python -m isengard worker`")
    try:
        head, request = wire.open_sealed(worker.token, message)
    except wire.WireError as exc:
        event("worker.refused", str(exc), level="WARNING", worker=worker.name)
        return {"status": "refused"}
    job_id, run_id = head["job"], head["run"]
    with use_correlation(head.get("cid"), service="worker"):
        return _run(worker, head, request, job_id, run_id)


def _run(worker: Worker, head: dict, request: Any, job_id: str, run_id: str) -> dict[str, str]:
    rctx = RemoteRunContext(worker, job_id, head.get("cid") or "")
    if not _take_lease(worker, job_id):
        _seal(worker, head, "interrupted", "Another GPU worker still holds this job.", None)
        return {"status": "busy"}
    done = threading.Event()
    keeper = threading.Thread(target=_keep, args=(worker, rctx, done), name=f"lease-{job_id}", daemon=True)
    keeper.start()
    worker.current = rctx
    worker.running.update(job=job_id, title=head.get("title", ""), since=time.time())
    where = worker.place.name if worker.place else "CPU"
    rctx.progress(worker=worker.name, worker_place=where)
    event("worker.job_started", f"{head.get('title')} on {worker.name}", job_id=job_id, run=run_id)
    status, error, code, result, details = "succeeded", None, None, None, None
    try:
        plugin = worker.registry.get(head["kind"], head["plugin"])
        if worker.server:  # no shared disk: what the request names comes from the studio first
            rctx.mirror = Mirror(worker.server, worker.token, head["roots"], worker.local_roots)
            request = rctx.mirror.localize(request)
            rctx.run_dir = getattr(request, "output_dir", None)
        if hasattr(request, "device"):
            request.device = rctx.device  # this worker's GPU, whatever the studio's own GPUs are
        result = plugin.run(request, rctx)
        if rctx.mirror is not None:
            if rctx.run_dir is not None:
                rctx.mirror.push(rctx.run_dir)
            result = rctx.mirror.globalize(result)
    except Cancelled as exc:
        status = rctx.ending if rctx.is_cancelled() else "cancelled"
        # the person's Stop keeps the plugin's own sentence ("Resume continues from step 20")
        error = (str(exc) or rctx.why if status == "cancelled" else rctx.why) or "Cancelled."
    except (PluginError, IsengardError) as exc:
        status, error, code = "failed", str(exc), getattr(exc, "code", None)
        details = getattr(exc, "details", None) or None  # an out-of-memory's stage and resume step
    except Exception as exc:
        status = "failed"
        error = fetch_error(exc) or failure_reason(exc)
        event(
            "worker.job_error",
            f"{head.get('title')} failed on {worker.name}",
            level="ERROR",
            job_id=job_id,
            traceback=traceback.format_exc()[-4000:],
        )
    finally:
        done.set()
        keeper.join(timeout=5)
        rctx.flush()
        worker.current = None
        worker.running.clear()
    _seal(worker, head, status, error, result, code=code, details=details)
    with contextlib.suppress(Exception):
        worker.redis.eval(RELEASE, 1, wire.lease_key(job_id), worker.name)
    event("worker.job_ended", f"{head.get('title')} {status} on {worker.name}", job_id=job_id, status=status)
    return {"status": status}


def _seal(
    worker: Worker, head: dict, status: str, error: str | None, result: Any, *, code=None, details=None
) -> None:
    sealed = wire.seal(
        worker.token,
        {
            "run": head["run"],
            "job": head["job"],
            "status": status,
            "error": error,
            "code": code,
            "details": details,
            "worker": worker.name,
        },
        result,
    )
    for attempt in range(60):  # the ending must reach the studio: wait for Redis a while
        try:
            with worker.redis.pipeline() as pipe:  # one transaction: the mark wakes the studio's read
                pipe.set(wire.result_key(head["run"]), json.dumps(sealed), ex=wire.KEEP_SECONDS)
                pipe.xadd(wire.events_key(head["job"]), {"t": wire.ENDED_MARK, "d": "{}"})
                pipe.expire(wire.events_key(head["job"]), wire.KEEP_SECONDS)
                pipe.execute()
            return
        except Exception as exc:
            event("worker.result_unsent", f"ending of {head['job']} waits for Redis: {exc}", level="WARNING")
            time.sleep(min(5, 0.5 * (attempt + 1)))


def heartbeat(worker: Worker, stop: threading.Event) -> None:
    """What Settings → Workers shows: this worker, its machine and GPU, what it runs, when it last spoke."""
    place = worker.place
    while True:
        info = {
            "name": worker.name,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "gpu": place.name if place else "CPU",
            "memory_gb": place.vram_gb if place else None,
            "version": wire.VERSION,
            "job": worker.running.get("job"),
            "title": worker.running.get("title"),
            "since": worker.running.get("since"),
            "heartbeat": time.time(),
        }
        with contextlib.suppress(Exception):
            worker.redis.set(wire.worker_key(worker.name), json.dumps(info), ex=wire.WORKER_TTL)
        if stop.wait(5):
            with contextlib.suppress(Exception):
                worker.redis.delete(wire.worker_key(worker.name))
            return


def stop_on_signal(worker: Worker, rq_worker) -> None:
    """SIGTERM/SIGINT: the job in hand stops at its next step (its studio puts it back in line to resume
    elsewhere) and the worker leaves, instead of RQ's warm shutdown that would wait out an hour's training."""

    def handle(signum, frame):
        worker.stopping.set()
        if worker.current is not None:
            worker.current.stop("the worker was stopped", ending="interrupted")
        rq_worker.request_stop(signum, frame)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
