"""Space for a job's ending, reserved when it starts, so the reason survives a full disk and the process.

A job that fails because the disk is full cannot write why into the database on that disk. The runner
keeps such an ending in memory and retries; but if the process exits before space returns, every reader
would later see "interrupted — the process stopped" and the reason would be lost. So when a job starts, a
small file of zeros is written beside the database (`endings/<job>`): its blocks are allocated then,
while there is room. An ending the database refuses is written *into* those blocks, in place — which needs
no new space — and the reader that finds the job's owner gone takes the ending from there.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLOT_BYTES = 8192


@dataclass
class Ending:
    status: str
    error: str | None
    result: dict[str, Any] | None
    at: float


class EndingSlots:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, job_id: str) -> Path:
        return self.folder / job_id

    def reserve(self, job_id: str) -> bool:
        """Allocate the job's slot now (False when even that does not fit: the job runs without one)."""
        path = self._path(job_id)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(b"\0" * SLOT_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
            return True
        except OSError:
            path.unlink(missing_ok=True)
            return False

    def record(self, job_id: str, ending: Ending) -> bool:
        """Write the ending into the reserved blocks (never growing the file)."""
        path = self._path(job_id)
        if not path.exists():
            return False
        data = {"status": ending.status, "error": (ending.error or "")[:3000], "at": ending.at}
        blob = json.dumps({**data, "result": ending.result}).encode()
        if len(blob) > SLOT_BYTES:
            blob = json.dumps(data).encode()  # a big result does not fit: the status and reason do
        try:
            with open(path, "r+b") as handle:
                handle.write(blob[:SLOT_BYTES].ljust(SLOT_BYTES, b"\0"))
                handle.flush()
                os.fsync(handle.fileno())
            return True
        except OSError:
            return False

    def read(self, job_id: str) -> Ending | None:
        """The ending kept in the job's slot, if one was recorded there."""
        try:
            raw = self._path(job_id).read_bytes().rstrip(b"\0")
        except OSError:
            return None
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return Ending(data["status"], data.get("error"), data.get("result"), float(data["at"]))
        except (ValueError, KeyError, TypeError):
            return None

    def release(self, job_id: str) -> None:
        """The ending reached the database: the slot's space goes back."""
        with contextlib.suppress(OSError):
            self._path(job_id).unlink(missing_ok=True)
