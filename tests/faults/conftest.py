"""Fault injection: full disks, read-only folders, busy or damaged databases, killed processes.

A full disk is a real small tmpfs where the test may mount one (root on Linux); elsewhere the same
failure is injected where the storage layer writes. Either way the code under test meets the real error
(`sqlite3.OperationalError: database or disk is full`, `OSError(ENOSPC)`).
"""

from __future__ import annotations

import contextlib
import errno
import sqlite3
import subprocess
from pathlib import Path

import pytest


def _try_mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


class WriteFaults:
    """Makes the database and atomic file writes fail the way a full or read-only disk does."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.kind: str | None = None

    def _error(self):
        if self.kind == "full":
            return sqlite3.OperationalError("database or disk is full"), OSError(
                errno.ENOSPC, "No space left on device"
            )
        return (
            sqlite3.OperationalError("attempt to write a readonly database"),
            OSError(errno.EROFS, "Read-only file system"),
        )

    def start(self, kind: str) -> None:
        from isengard.storage import db as db_module
        from isengard.storage import files

        self.kind = kind
        faults = self
        real_execute = db_module.Database.execute
        real_transaction = db_module.Database.transaction
        real_atomic = files._atomic

        def execute(self, sql, params=()):
            if faults.kind and not sql.lstrip().upper().startswith(("SELECT", "PRAGMA")):
                raise faults._error()[0]
            return real_execute(self, sql, params)

        @contextlib.contextmanager
        def transaction(self):
            if faults.kind:
                raise faults._error()[0]
            with real_transaction(self) as conn:
                yield conn

        def atomic(*args, **kwargs):
            if faults.kind:
                raise faults._error()[1]
            return real_atomic(*args, **kwargs)

        self.monkeypatch.setattr(db_module.Database, "execute", execute)
        self.monkeypatch.setattr(db_module.Database, "transaction", transaction)
        self.monkeypatch.setattr(files, "_atomic", atomic)

    def stop(self) -> None:
        self.kind = None


@pytest.fixture
def write_faults(monkeypatch):
    return WriteFaults(monkeypatch)


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs when one can be mounted here, else None (the test then injects the failure)."""
    folder = tmp_path / "small-disk"
    if not _try_mount_tmpfs(folder, "3m"):
        yield None
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=10)
