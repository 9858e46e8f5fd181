"""Errors a person can act on.

Every error that reaches the user carries one clear sentence and, for the CLI, an exit code.
Exit codes: 2 configuration, 3 storage, 4 network/port, 5 input, 6 job failed, 7 not available.
"""

from __future__ import annotations


class IsengardError(Exception):
    """Base class: `str(err)` is the sentence shown to the user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

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
