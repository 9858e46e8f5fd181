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
CONTENT_TABLES = ("characters", "loras", "generations")


class DamagedDatabaseError(StorageError):
    """The database file is unreadable or has bad pages. The person's files are untouched."""

    def __init__(self, path: Path, detail: str):
        super().__init__(
            "Isengard's database is damaged, so it will not start (your photos, LoRAs and pictures are safe).",
            hint=recovery_hint(Path(path)),
        )
        self.detail = detail


def recovery_hint(db_path: Path) -> str:
    """The way back, with the newest backup if there is one (shared by every refusal to start)."""
    from isengard.storage.backup import list_backups

    backups = list_backups(db_path.parent / "backups")
    restore = (
        f"restore the backup from {backups[0].label} with `python -m isengard recover --backup latest`, or "
        if backups
        else ""
    )
    return f"To continue, {restore}rebuild it from your files with `python -m isengard recover`."


def database_is_empty(path: Path) -> bool:
    """True when there is no database file, or one without any of the person's records."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return True
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return not any(
            conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
            for table in CONTENT_TABLES
            if table in tables
        )
    except sqlite3.DatabaseError:
        return False  # damaged, not empty: the damage check says so when it opens
    finally:
        conn.close()


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
            problems = [r[0] for r in self._conn.execute("PRAGMA quick_check(5)").fetchall()]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(str(p) for p in problems))
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            event("storage.damaged", f"database check failed: {exc}", level="ERROR", path=str(self.path))
            raise DamagedDatabaseError(self.path, str(exc)) from None
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

    def backup_to(self, target: Path) -> Path:
        """An online copy with SQLite's backup API (consistent while other threads keep writing)."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            dest = sqlite3.connect(tmp)
            try:
                with self._lock:
                    self._conn.backup(dest)
            finally:
                dest.close()
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def loads(value: str | None, default: Any = None) -> Any:
    return json.loads(value) if value else default
