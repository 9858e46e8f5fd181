"""Rotating online backups of the database: one at each studio start and one a day, a few kept.

Backups live in `<data>/backups/isengard-<YYYYMMDD-HHMMSS>.db`. They are made with SQLite's backup API, so
they are consistent even while jobs write. Restoring one moves the current database aside (never deletes
it) and copies the backup into place.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from isengard.errors import InputError, StorageError, storage_failure_reason
from isengard.obs import event

KEEP = 7
DAILY_SECONDS = 24 * 3600
_NAME = re.compile(r"^isengard-(\d{8}-\d{6})(?:-\d+)?\.db$")


@dataclass(frozen=True)
class Backup:
    path: Path
    created_at: float

    @property
    def label(self) -> str:
        return time.strftime("%d %b %Y, %H:%M", time.localtime(self.created_at))


def list_backups(folder: Path) -> list[Backup]:
    """Newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and path.stat().st_size > 0:
            created = time.mktime(time.strptime(match.group(1), "%Y%m%d-%H%M%S"))
            found.append(Backup(path, created))
    return sorted(found, key=lambda b: (b.created_at, b.path.name), reverse=True)


def make_backup(db, folder: Path, *, keep: int = KEEP, reason: str = "start") -> Backup | None:
    """Write a new backup and drop the oldest beyond `keep`. A full disk skips it with a warning."""
    from isengard.storage.db import database_is_empty

    if database_is_empty(db.path):
        return None  # nothing of the person's yet: such a backup could only hide a useful older one
    folder = Path(folder)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"isengard-{stamp}.db"
    suffix = 1
    while target.exists():
        target = folder / f"isengard-{stamp}-{suffix}.db"
        suffix += 1
    try:
        db.backup_to(target)
    except (OSError, sqlite3.Error) as exc:
        event(
            "storage.backup_failed",
            f"database backup skipped: {storage_failure_reason(exc) or exc}",
            level="WARNING",
        )
        return None
    for old in list_backups(folder)[keep:]:
        old.path.unlink(missing_ok=True)
    event("storage.backup", f"database backed up ({reason})", backup=target.name, reason=reason)
    return Backup(target, time.time())


def restore_backup(db_path: Path, which: str) -> tuple[Backup, Path | None]:
    """Put a backup in place of the database; the current file (if any) is moved aside, not deleted."""
    db_path = Path(db_path)
    backups = list_backups(db_path.parent / "backups")
    if not backups:
        raise InputError("There are no database backups to restore.")
    if which == "latest":
        chosen = backups[0]
    else:
        matches = [b for b in backups if b.path.name == Path(which).name]
        if not matches:
            names = ", ".join(b.path.name for b in backups[:5])
            raise InputError(f"There is no backup called {which!r}.", hint=f"Known: {names}.")
        chosen = matches[0]
    check = sqlite3.connect(f"file:{chosen.path}?mode=ro", uri=True)
    try:
        if check.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise StorageError(f"The backup from {chosen.label} is damaged too; pick an older one.")
    finally:
        check.close()
    aside = None
    if db_path.exists():
        aside = db_path.with_name(f"{db_path.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        db_path.replace(aside)
        for side in ("-wal", "-shm"):
            extra = db_path.with_name(db_path.name + side)
            if extra.exists():
                extra.replace(aside.with_name(aside.name + side))
    tmp = db_path.with_name(f".{db_path.name}.restore.tmp")
    shutil.copy2(chosen.path, tmp)
    tmp.replace(db_path)
    event("storage.restored", f"database restored from the backup of {chosen.label}", backup=chosen.path.name)
    return chosen, aside


class DailyBackups:
    """A backup a day while the studio runs (the one at start is made by the caller)."""

    def __init__(self, db, folder: Path, every: float = DAILY_SECONDS):
        self._db, self._folder, self._every = db, Path(folder), every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="db-backups", daemon=True)

    def start(self) -> DailyBackups:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            make_backup(self._db, self._folder, reason="daily")
