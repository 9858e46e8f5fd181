"""One GPU lock per machine: `WORKER_CONCURRENCY` slots shared by every Isengard process on one data folder.

Each slot is a file in `<data>/locks/` held with `flock`. A `flock` belongs to an open file description, so
two threads of one process conflict just as two processes do, and the kernel drops the lock when its holder
dies (a `kill -9` never leaves the GPU "taken"). The holder writes who it is into the file, so a waiting
job can say what it waits for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isengard.obs import event


@dataclass
class Slot:
    index: int
    handle: Any  # the open file that holds the flock


class GpuLock:
    def __init__(self, folder: Path, slots: int = 1):
        self.folder = Path(folder)
        self.slots = max(1, int(slots))
        self._fallback: set[int] | None = None  # free slots when flock cannot be used
        self._fallback_lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._use_fallback(f"cannot create the lock folder: {exc}")

    def _use_fallback(self, why: str) -> None:
        # A file system without flock (some network mounts): the lock still holds inside this process.
        if self._fallback is None:
            self._fallback = set(range(self.slots))
            event("gpu_lock.fallback", f"GPU lock limited to this process: {why}", level="WARNING")

    def path(self, index: int) -> Path:
        return self.folder / f"gpu-{index}.lock"

    def try_acquire(self, holder: dict[str, Any]) -> Slot | None:
        if self._fallback is not None:
            with self._fallback_lock:
                return Slot(self._fallback.pop(), None) if self._fallback else None
        for index in range(self.slots):
            try:
                handle = open(self.path(index), "a+b")  # noqa: SIM115 - held until release()
            except OSError as exc:
                self._use_fallback(str(exc))
                return self.try_acquire(holder)
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            except OSError as exc:
                handle.close()
                self._use_fallback(str(exc))
                return self.try_acquire(holder)
            # a full disk must not stop the lock itself; only the holder's note is lost
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
                note = holder | {"slot": index, "pid": os.getpid(), "since": time.time()}
                handle.write(json.dumps(note).encode())
                handle.flush()
            return Slot(index, handle)
        return None

    def acquire(
        self,
        holder: dict[str, Any],
        *,
        should_stop: Callable[[], bool],
        on_wait: Callable[[list[dict[str, Any]]], None] | None = None,
        poll: float = 0.2,
    ) -> Slot | None:
        """Block until a slot is free (returns it) or `should_stop()` is true (returns None)."""
        slot = self.try_acquire(holder)
        if slot is not None:
            return slot
        if on_wait is not None:
            on_wait(self.holders())
        while slot is None:
            if should_stop():
                return None
            time.sleep(poll)
            slot = self.try_acquire(holder)
        return slot

    def release(self, slot: Slot) -> None:
        if slot.handle is None:
            if self._fallback is not None:
                with self._fallback_lock:
                    self._fallback.add(slot.index)
            return
        with contextlib.suppress(OSError):  # a free slot names nobody
            slot.handle.seek(0)
            slot.handle.truncate()
        try:
            fcntl.flock(slot.handle.fileno(), fcntl.LOCK_UN)
        finally:
            slot.handle.close()

    def holders(self) -> list[dict[str, Any]]:
        """Who holds each slot, as far as their notes say (what a waiting job names)."""
        found = []
        for index in range(self.slots):
            try:
                text = self.path(index).read_text(encoding="utf-8")
                note = json.loads(text) if text.strip() else None
            except (OSError, ValueError):
                continue
            if isinstance(note, dict):
                found.append(note | {"slot": index})
        return found
