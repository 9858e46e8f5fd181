"""Running ai-toolkit: the process, its output streams, its metrics database and its files.

* Launched as `python run.py CONFIG` in its own process group, PYTHONUNBUFFERED=1, SIGINT reset to the
  default in the child (a child of a background shell would otherwise inherit it as ignored).
* stdout/stderr are copied (secrets removed) to the subprocess log files and parsed: the tqdm bar of the
  job (`NAME:  45%|…| 9/20 [00:01<00:00, 16.60it/s, lr: 1.0e-04 loss: 3.511e+00]`, updated with `\\r`),
  `Saving at step N`, `Saved checkpoint to PATH`, `Error running job: …`, `Job stopped`.
* `loss_log.db` (SQLite, WAL) gives the loss of every step; samples appear as
  `samples/<epoch-ms>__<step:09d>_<i>.jpg`.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

TQDM = re.compile(
    r"^(?P<desc>.+?):\s+\d+%\|[^|]*\|\s*(?P<step>\d+)/(?P<total>\d+)\s+\[[^<\]]*<[^,\]]*,\s*"
    r"(?P<rate>[\d.]+|\?)(?P<unit>it/s|s/it)?(?:,\s*lr:\s*(?P<lr>[-+\d.eE]+)\s+loss:\s*(?P<loss>[-+\d.eE]+|nan|inf))?"
)
SAVED = re.compile(r"^Saved checkpoint to (?P<path>.+\.safetensors)\s*$")
SAMPLE = re.compile(r"^(?P<ms>\d+)__(?P<step>\d{9})_(?P<index>\d+)\.(jpg|jpeg|png|webp)$")
# resets SIGINT to the default, then becomes ai-toolkit's Python (argv: python, run.py, config)
LAUNCHER = (
    "import os,signal,sys;signal.signal(signal.SIGINT,signal.SIG_DFL);os.execv(sys.argv[1],sys.argv[1:])"
)


@dataclass
class StreamState:
    step: int | None = None
    total: int | None = None
    it_s: float | None = None
    loss: float | None = None
    lr: float | None = None
    error: str | None = None
    stopped: bool = False
    resumed_from: int | None = None
    checkpoints: list[str] = field(default_factory=list)
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=25))
    stdout_tail: deque = field(default_factory=lambda: deque(maxlen=25))
    messages: list[str] = field(default_factory=list)


class OutputParser:
    """Turns ai-toolkit's stdout/stderr into state; `job_name` picks the training bar among the others."""

    def __init__(self, job_name: str):
        self.job_name = job_name
        self.state = StreamState()
        self._lock = threading.Lock()

    def feed_stdout(self, line: str) -> None:
        line = line.rstrip("\n")
        with self._lock:
            if line.strip():
                self.state.stdout_tail.append(line)
            text = line.strip()
            saved = SAVED.match(text)
            if saved and saved.group("path") not in self.state.checkpoints:
                self.state.checkpoints.append(saved.group("path"))
            if text.startswith("Error running job:"):
                self.state.error = text.removeprefix("Error running job:").strip() or "ai-toolkit failed"
            if text == "Job stopped":
                self.state.stopped = True
            found = re.match(r"^Found step (\d+) in metadata", text)
            if found:
                self.state.resumed_from = int(found.group(1))
            for marker in (
                "Generating baseline samples before training",
                "Caching latents for",
                "Loading Flux model",
                "Loading model",
                "Saving at step",
            ):
                if text.startswith(marker):
                    self.state.messages.append(text)

    def feed_stderr(self, segment: str) -> None:
        """One `\\r`- or `\\n`-separated piece of stderr."""
        text = segment.strip()
        if not text:
            return
        with self._lock:
            match = TQDM.match(text)
            if match and match.group("desc").strip() == self.job_name:
                self.state.step = int(match.group("step"))
                self.state.total = int(match.group("total"))
                rate = match.group("rate")
                if rate and rate != "?":
                    value = float(rate)
                    self.state.it_s = (
                        value if match.group("unit") != "s/it" else (1.0 / value if value else None)
                    )
                if match.group("loss"):
                    self.state.loss = float(match.group("loss"))
                    self.state.lr = float(match.group("lr"))
            elif not match:
                self.state.stderr_tail.append(text)


def read_losses(db: Path, after_step: int = 0, since: float = 0.0) -> list[tuple[int, float]]:
    """(step, loss) rows of loss_log.db after `after_step`, logged at or after `since` (epoch seconds), read
    only (the trainer keeps writing). `since` leaves out what an earlier, stopped run left in the file:
    ai-toolkit keeps those rows (and drops the ones past its checkpoint only once it has resumed)."""
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            rows = conn.execute(
                "SELECT m.step, m.value_real FROM metrics m JOIN steps s ON s.step = m.step "
                "WHERE m.key='loss/loss' AND m.step>? AND s.wall_time>=? ORDER BY m.step",
                (after_step, since),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # being created or locked for a moment: read it next time
    return [(int(step), float(value)) for step, value in rows if value is not None]


def new_samples(folder: Path, seen: set[str]) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        match = SAMPLE.match(path.name)
        if match and path.name not in seen and path.is_file():
            seen.add(path.name)
            found.append((int(match.group("step")), path))
    return found


class Process:
    """The running ai-toolkit, with its output copied to log files and parsed as it comes."""

    def __init__(
        self,
        python: Path,
        run_py: Path,
        config: Path,
        *,
        cwd: Path,
        env: dict[str, str],
        stdout_log: Path,
        stderr_log: Path,
        parser: OutputParser,
        redact=lambda text: text,
    ):
        stdout_log.parent.mkdir(parents=True, exist_ok=True)
        self.parser = parser
        self._redact = redact
        self._out = open(stdout_log, "a", encoding="utf-8")  # noqa: SIM115 - closed in wait()
        self._err = open(stderr_log, "a", encoding="utf-8")  # noqa: SIM115 - closed in wait()
        self.popen = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(python), str(run_py), str(config)],
            cwd=str(cwd),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pgid = os.getpgid(self.popen.pid)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.popen.stdout, self._out, "stdout"), daemon=True),
            threading.Thread(target=self._pump, args=(self.popen.stderr, self._err, "stderr"), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream, log, which: str) -> None:
        buffer = ""
        decoder = __import__("codecs").getincrementaldecoder("utf-8")(errors="replace")
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            text = decoder.decode(chunk)
            log.write(self._redact(text))
            log.flush()
            buffer += text
            if which == "stdout":
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    self.parser.feed_stdout(line)
            else:
                *segments, buffer = re.split(r"[\r\n]", buffer)
                for segment in segments:
                    self.parser.feed_stderr(segment)
        if buffer:
            (self.parser.feed_stdout if which == "stdout" else self.parser.feed_stderr)(buffer)

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, *, grace: float = 60.0, term_grace: float = 10.0) -> str:
        """SIGINT to the group (ai-toolkit's own way to stop), then SIGTERM, then SIGKILL if it hangs."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, term_grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                return "exited"
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.popen.poll() is not None:
                    return signal.Signals(sig).name
                time.sleep(0.1)
        return "SIGKILL"

    def wait(self) -> int:
        code = self.popen.wait()
        for thread in self._threads:
            thread.join(timeout=10)
        self._out.close()
        self._err.close()
        return code
