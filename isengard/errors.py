"""Errors a person can act on.

Every error that reaches the user carries one clear sentence and, for the CLI, an exit code from
`EXIT_CODES`, the one table of them (the README's table is checked against it).
"""

from __future__ import annotations

EXIT_CODES = {
    0: "success",
    1: "an unexpected error (a bug: see the logs)",
    2: "configuration (a setting or a preset is wrong)",
    3: "storage (the database or a data folder cannot be used)",
    4: "the port is in use",
    5: "bad input (a name, a file, a value)",
    6: "the job failed",
    7: "not available here (no GPU, no model, no token, the studio cannot be reached)",
    8: "the job was cancelled",
    9: "the job was interrupted (the process running it stopped; resume it)",
    130: "stopped with Ctrl+C",
}


class IsengardError(Exception):
    """Base class: `str(err)` is the sentence shown to the user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field  # the form field it concerns, when there is one: the UI shows it beside that field

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class SettingsError(IsengardError):
    exit_code = 2


class StorageError(IsengardError):
    exit_code = 3


class PortInUseError(IsengardError):
    exit_code = 4


class InputError(IsengardError):
    """Bad input from a person: a name, a file, a number out of range."""

    exit_code = 5


class JobFailedError(IsengardError):
    exit_code = 6


class NotAvailableError(IsengardError):
    """A plugin or model that cannot run here (no GPU, no server, missing token)."""

    exit_code = 7


def storage_failure_reason(exc: BaseException) -> str | None:
    """The plain sentence for a failed write (full disk, read-only folder, busy database), else None."""
    import errno
    import sqlite3

    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "disk is full" in text or "no space left" in text:
        return "The disk is full, so Isengard could not save its work. Free some space, then resume or retry."
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text or "read-only" in text:
        return (
            "Isengard can no longer write to its data folder (it became read-only or its permissions "
            "changed). Make it writable again, then resume or retry."
        )
    if code in (errno.ENOTDIR, errno.EISDIR):
        return (
            "Isengard could not save its work: something in its data folder is a file where a folder "
            "should be (or the other way round). The log names it; move it aside, then resume or retry."
        )
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return "The database stayed busy for too long (another program is holding it). Try again in a moment."
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
        return "Isengard's database is damaged. Restart Isengard: it will say how to restore it."
    if isinstance(exc, StorageError):
        return exc.message
    return None
