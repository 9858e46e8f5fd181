"""A real Redis (Debian's `redis-server`) on a free loopback port, and real worker processes, for the
job-queue tests. No Docker: `.ci/run` installs redis-server when it is missing."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from isengard.settings import PROJECT_ROOT
from tests.helpers import child_env, free_port


@dataclass
class RedisServer:
    port: int
    folder: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (apt-get install redis-server; .ci/run does)"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--protected-mode",
                "yes",
            ],
            stdout=(self.folder / "redis.out").open("ab"),
            stderr=subprocess.STDOUT,
        )
        import redis

        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """As a crash or a restart without persistence does: everything it held is gone."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(free_port(), tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def handing_out_studio(tmp_path, redis_server):
    """A studio (in this process, fast-test) that only hands out GPU work: REDIS_URL, WORKER_CONCURRENCY=0."""
    from isengard.context import bootstrap
    from tests.helpers import make_settings

    settings = make_settings(tmp_path, env={"REDIS_URL": redis_server.url, "WORKER_CONCURRENCY": "0"})
    ctx = bootstrap(settings, console=False)
    yield ctx
    ctx.close()


@dataclass
class Workers:
    """`python -m isengard worker` processes started by a test, each with its own output file."""

    root: Path
    started: list[subprocess.Popen] = field(default_factory=list)

    def start(self, env: dict[str, str], name: str, *args: str) -> subprocess.Popen:
        out = (self.root / f"worker-{name}.out").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "isengard", "worker", "--name", name, *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        return process

    def output(self, name: str) -> str:
        return (self.root / f"worker-{name}.out").read_text(encoding="utf-8", errors="replace")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def workers(tmp_path):
    found = Workers(tmp_path)
    yield found
    found.stop_all()


def worker_env(root: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """A worker's environment: the studio's Redis; the data folder given (shared, or its own)."""
    return child_env(root, REDIS_URL=redis_url, **extra)
