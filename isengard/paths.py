"""Every path Isengard reads or writes under its data, log and scratch directories.

This is the one module that builds paths; other modules ask it instead of joining strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from isengard.errors import InputError, StorageError

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_component(value: str, *, fallback: str = "item") -> str:
    """A single path component that cannot escape its folder (no separators, no dots-only)."""
    cleaned = _SAFE.sub("_", value).strip("._")
    return cleaned[:80] or fallback


@dataclass(frozen=True)
class Paths:
    data: Path
    logs: Path
    tmp: Path

    # data directory layout (ARCHITECTURE.md)
    @property
    def db(self) -> Path:
        return self.data / "isengard.db"

    @property
    def uploads(self) -> Path:
        return self.data / "uploads"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def loras(self) -> Path:
        return self.models / "loras"

    @property
    def base_models(self) -> Path:
        return self.models / "base"

    @property
    def outputs(self) -> Path:
        return self.data / "outputs"

    @property
    def training_runs(self) -> Path:
        return self.data / "training"

    @property
    def secrets(self) -> Path:
        return self.data / "secrets"

    @property
    def backups(self) -> Path:
        return self.data / "backups"

    @property
    def locks(self) -> Path:
        return self.data / "locks"

    def character_dir(self, folder: str) -> Path:
        """A character's photo folder; `folder` is the unique name stored with the character."""
        return self.uploads / safe_component(folder, fallback="character")

    def lora_dir(self, character_slug: str) -> Path:
        return self.loras / safe_component(character_slug, fallback="lora")

    def training_run_dir(self, job_id: str) -> Path:
        return self.training_runs / safe_component(job_id, fallback="job")

    def outputs_day(self, day: str) -> Path:
        return self.outputs / safe_component(day, fallback="day")

    # log layout
    def service_log_dir(self, service: str) -> Path:
        return self.logs / service / "latest"

    def service_archive_dir(self, service: str) -> Path:
        return self.logs / service / "archive"

    def service_log_file(self, service: str) -> Path:
        name = "client.log" if service == "web" else f"{service}.log"
        return self.service_log_dir(service) / name

    @property
    def subprocess_logs(self) -> Path:
        return self.service_log_dir("worker") / "subprocess"

    def subprocess_log(self, name: str, stream: str) -> Path:
        return self.subprocess_logs / f"{safe_component(name)}.{stream}.log"

    def scratch(self, name: str) -> Path:
        return self.tmp / safe_component(name)

    def inside_data(self, path: Path) -> Path:
        """Resolve `path` and refuse anything outside the data directory."""
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(self.data.resolve()):
            raise InputError(f"{path} is outside the data directory.")
        return resolved

    def ensure(self) -> None:
        """Create the layout; an unwritable location is a clear StorageError."""
        for directory in (
            self.data,
            self.uploads,
            self.loras,
            self.base_models,
            self.outputs,
            self.logs,
            self.tmp,
        ):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"Cannot create {directory}: {exc.strerror or exc}.",
                    hint="Point DATA_DIR / LOG_DIR at a folder you can write to.",
                ) from None
        for directory in (self.data, self.logs, self.tmp):
            probe = directory / ".write-test"
            try:
                probe.write_bytes(b"ok")
                probe.unlink()
            except OSError as exc:
                raise StorageError(
                    f"Cannot write to {directory}: {exc.strerror or exc}.",
                    hint="Point DATA_DIR / LOG_DIR at a folder you can write to.",
                ) from None
