"""Atomic file writes: write a temp file in the same folder, fsync, then rename over the target."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _atomic(path: Path, write: Callable[[Any], None], mode: str, *, permissions: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if permissions is not None:
            os.chmod(tmp_name, permissions)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: Path, data: bytes, *, permissions: int | None = None) -> Path:
    return _atomic(path, lambda h: h.write(data), "wb", permissions=permissions)


def atomic_write_text(path: Path, text: str, *, permissions: int | None = None) -> Path:
    return _atomic(path, lambda h: h.write(text.encode("utf-8")), "wb", permissions=permissions)


def atomic_write_json(path: Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def atomic_copy(src: Path, dst: Path) -> Path:
    def copy(handle) -> None:
        with open(src, "rb") as source:
            shutil.copyfileobj(source, handle, 1 << 20)

    return _atomic(dst, copy, "wb")


def atomic_save(path: Path, save: Callable[[Path], None]) -> Path:
    """For libraries that write by path (PIL, safetensors): save to a temp name, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def unique_name(stem: str) -> str:
    """A storage name that no earlier run can have produced: the stem plus 12 random hex digits."""
    import uuid

    return f"{stem}-{uuid.uuid4().hex[:12]}"


def reserve_file(folder: Path, stem: str, suffix: str) -> Path:
    """Claim `folder/stem+suffix` (or `stem-2+suffix`, …) by creating it empty with O_EXCL.

    The caller then writes it atomically. Two writers can never get the same name, and nothing that is
    already there — from this database's life or an earlier one's — is ever overwritten.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 10_000):
        candidate = folder / (f"{stem}{suffix}" if attempt == 1 else f"{stem}-{attempt}{suffix}")
        try:
            fd = os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(f"no free name for {stem}{suffix} in {folder}")


def reserve_folder(parent: Path, stem: str) -> Path:
    """Create a new folder `parent/stem-<random>` that did not exist before (never an old one)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        candidate = parent / unique_name(stem)
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
