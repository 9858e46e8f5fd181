"""`python -m isengard worker`: one RQ worker process per GPU (or one on the CPU), serving the studio's queue.

Before it takes any job a worker checks two things, so it refuses instead of running wrongly:
its token matches the studio's (the studio publishes a proof of its token, never the token), and it sees
the studio's data folder (photos, models, runs), which it shares — a RunPod network volume, or one machine.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from isengard import device
from isengard.errors import NotAvailableError, SettingsError
from isengard.jobs import remote_worker, wire
from isengard.obs import event, use_correlation

STUDIO_ID_FILE = "studio-id"


def studio_id(data_dir: Path, *, create: bool) -> str | None:
    """The data folder's own name, written once by the studio: a worker that reads the same one shares it."""
    from isengard.storage.files import atomic_write_text

    path = Path(data_dir) / "secrets" / STUDIO_ID_FILE
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        if not create:
            return None
    value = uuid.uuid4().hex
    atomic_write_text(path, value, permissions=0o600)
    return value


def connect(url: str, *, read_timeout: float = 10):
    """A Redis client; a worker's reads wait longer than RQ's blocking dequeue (which would otherwise time
    out under it and restart the worker every few seconds)."""
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=3, socket_timeout=read_timeout, health_check_interval=15
    )


def check_studio(redis, token: str, data_dir: Path, server: str | None, wait_s: float = 60) -> bool:
    """Refuse to serve a studio whose token this worker does not have, or whose files it cannot reach
    (waits a while for a studio that is still starting). True when it shares the studio's data folder."""
    deadline = time.monotonic() + wait_s
    while True:
        proof, studio = redis.get(wire.AUTH_KEY), redis.get(wire.STUDIO_KEY)
        if proof is not None and studio is not None:
            break
        if time.monotonic() > deadline:
            raise NotAvailableError("No Isengard studio has used this Redis yet: start the studio first.")
        time.sleep(1)
    if proof.decode() != wire.token_proof(token):
        event(
            "worker.token_refused",
            "this worker's token does not match the studio's",
            level="WARNING",
            fingerprint=wire.token_hint(token),  # tells two tokens apart; never the token
        )
        raise NotAvailableError(
            "This worker's token does not match the studio's: copy the studio's ISENGARD_WORKER_TOKEN."
        )
    info = json.loads(studio)
    if info.get("data_id") == studio_id(data_dir, create=False):
        return True
    if not server:
        raise NotAvailableError(
            "This worker does not see the studio's data folder: give it the studio's address "
            "(--server URL or ISENGARD_SERVER) to fetch and send files, or the same DATA_DIR."
        )
    check_server(server, token)
    return False


def check_server(server: str, token: str) -> None:
    """The studio answers, and takes this worker's signature (a wrong token is refused here, not mid-job)."""
    import urllib.error
    import urllib.request

    from isengard.jobs.worker_files import PREFIX, signed_headers

    path = f"{PREFIX}/list/tmp/"
    request = urllib.request.Request(server.rstrip("/") + path, headers=signed_headers(token, "GET", path))
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        raise NotAvailableError(
            f"The studio at {server} refused this worker ({exc.code}): check its address and worker token."
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise NotAvailableError(f"The studio at {server} cannot be reached: {exc}.") from None


def serve(settings, *, gpu: str | None, name: str | None = None, server: str | None = None) -> int:
    """One worker process on one GPU (`gpu` is the id CUDA_VISIBLE_DEVICES was given) or the CPU."""
    with use_correlation(None, service="worker"):
        return _serve(settings, gpu=gpu, name=name, server=server)


def _serve(settings, *, gpu: str | None, name: str | None, server: str | None) -> int:
    from rq import Queue, SimpleWorker
    from rq.serializers import JSONSerializer

    from isengard.context import plugin_settings
    from isengard.obs import setup_logging
    from isengard.paths import Paths
    from plugins import register_builtin_plugins
    from plugins.base import PluginRegistry

    paths = Paths(settings.data_dir, settings.log_dir, settings.tmp_dir)
    paths.ensure()
    setup_logging(paths.logs, settings.log_level, console=True, console_level="WARNING")
    if not settings.redis_url:
        raise SettingsError("A worker needs REDIS_URL: the address of the studio's Redis.")
    token = wire.load_token(settings.worker_token, paths.data, create=False)
    if not token:
        raise SettingsError(
            "A worker needs the studio's ISENGARD_WORKER_TOKEN (or the studio's data folder, which holds it)."
        )
    redis = connect(settings.redis_url, read_timeout=wire.WORKER_TTL * 2 + 30)
    server = (server or os.environ.get("ISENGARD_SERVER", "")).strip() or None
    shared = check_studio(redis, token, paths.data, server)
    registry = PluginRegistry()
    register_builtin_plugins(registry, plugin_settings(settings, paths))
    places = device.list_gpus()
    place = places[0] if places else None
    label = f"gpu{gpu}" if gpu is not None else "cpu"
    worker = remote_worker.Worker(
        name=name or f"{socket.gethostname()}-{label}-{uuid.uuid4().hex[:6]}",
        redis=redis,
        token=token,
        registry=registry,
        place=place,
        server=None if shared else server,
        local_roots={"data": paths.data, "tmp": paths.tmp},
    )
    remote_worker.CURRENT = worker
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>`: where a stuck worker is
    stop_beat = threading.Event()
    beat = threading.Thread(target=remote_worker.heartbeat, args=(worker, stop_beat), daemon=True)
    beat.start()
    event(
        "worker.started",
        f"worker {worker.name} serves {wire.QUEUE} ({'shared data folder' if shared else 'files from ' + server})",
        worker=worker.name,
        gpu=gpu,
    )

    class IsengardWorker(SimpleWorker):
        """RQ's in-process worker (the plugins stay warm between jobs); a stop signal also stops the job
        in hand at its next step, so it resumes elsewhere instead of holding the machine for hours."""

        def subscribe(self):
            """RQ's command channel, listened to in a thread that wakes every second (RQ's own wakes every
            60 s, and its shutdown waits for it: a stopped worker hung for up to a minute)."""
            self.pubsub = self.connection.pubsub()
            self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
            self.pubsub_thread = self.pubsub.run_in_thread(
                sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
            )

        def request_stop(self, signum, frame):
            worker.stopping.set()
            if worker.current is not None:
                worker.current.stop("the worker was stopped", ending="interrupted")
            super().request_stop(signum, frame)

    try:
        while not worker.stopping.is_set():
            queue = Queue(wire.QUEUE, connection=redis, serializer=JSONSerializer)
            rq_worker = IsengardWorker(
                [queue],
                connection=redis,
                name=worker.name,
                serializer=JSONSerializer,
                worker_ttl=wire.WORKER_TTL * 2,
            )
            try:
                rq_worker.work(logging_level="WARNING", with_scheduler=False)
            except Exception as exc:  # Redis went away under RQ: wait and serve again
                event("worker.redis_unreachable", f"the queue cannot be reached: {exc}", level="WARNING")
            if not worker.stopping.is_set():
                time.sleep(2)
    finally:
        stop_beat.set()
        beat.join(timeout=5)  # it says goodbye: no stale entry in Settings → Workers
        event("worker.stopped", f"worker {worker.name} stopped", worker=worker.name)
    return 0


def launch(
    gpus: list[str] | None, *, env: dict | None = None, name: str | None = None, server: str | None = None
) -> list[subprocess.Popen]:
    """One worker process per GPU id (each sees only its GPU), or one CPU worker when `gpus` is empty."""
    children = []
    for gpu in gpus or [None]:
        child_env = dict(env if env is not None else os.environ)
        if gpu is not None:
            child_env["CUDA_VISIBLE_DEVICES"] = gpu
        command = [
            sys.executable,
            "-m",
            "isengard",
            "worker",
            "--this-gpu",
            gpu if gpu is not None else "cpu",
        ]
        if name:
            command += ["--name", f"{name}-{gpu}" if gpu is not None else name]
        if server:
            command += ["--server", server]
        children.append(subprocess.Popen(command, env=child_env))
    return children


def wait_all(children: list[subprocess.Popen]) -> int:
    """Wait for every worker process; Ctrl+C or SIGTERM reaches each (they share the process group)."""
    codes = []
    for child in children:
        try:
            codes.append(child.wait())
        except KeyboardInterrupt:
            codes.append(child.wait())
    return max(codes, default=0)
