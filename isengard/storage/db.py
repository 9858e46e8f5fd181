"""SQLite in WAL mode with versioned migrations.

One connection per process, shared by threads behind a lock: the job runner, the UI handlers and the CLI
all go through `Database`. Other processes (a CLI following a job) read the same file concurrently.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from isengard.errors import StorageError
from isengard.obs import event
from isengard.storage.migrations import MIGRATIONS

SCHEMA_VERSION = MIGRATIONS[-1][0]


class Database:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"Cannot open the database at {self.path}: {exc}.") from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StorageError(
                f"The database at {self.path} is damaged or is not an Isengard database ({exc}).",
                hint="Move it aside (your photos and LoRA files are kept) and start again to create a new one.",
            ) from None
        if version > SCHEMA_VERSION:
            self._conn.close()
            raise StorageError(
                f"The database at {self.path} was written by a newer Isengard "
                f"(schema {version}; this version knows up to {SCHEMA_VERSION}).",
                hint="Update Isengard, or point DATA_DIR at another folder.",
            )
        self._migrate(version)

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self, current: int) -> None:
        pending = [m for m in MIGRATIONS if m[0] > current]
        if not pending:
            return
        if current > 0:
            backup = self.path.with_name(f"{self.path.name}.bak-v{current}")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copy2(self.path, backup)
        for version, description, sql in pending:
            try:
                self._conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={version};\nCOMMIT;")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StorageError(f"Upgrading the database to schema {version} failed: {exc}.") from None
            event("storage.migrated", f"database schema {version}: {description}", version=version)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | dict = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] | dict = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def loads(value: str | None, default: Any = None) -> Any:
    return json.loads(value) if value else default
