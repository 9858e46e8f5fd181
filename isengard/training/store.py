"""The LoRA store: every trained LoRA (final files and checkpoints) and imported ones, with metadata.

Final LoRAs are copied to `models/loras/character-<id>/`; checkpoints stay in the training run folder.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isengard.errors import InputError
from isengard.obs import event
from isengard.paths import Paths, safe_component
from isengard.storage.db import Database, dumps, loads
from isengard.storage.files import atomic_copy, file_sha256, reserve_file
from plugins.lora_format import LoraFileError, read_lora_info


@dataclass
class LoraRecord:
    id: int
    character_id: int | None
    character_name: str | None
    job_id: str | None
    name: str
    kind: str  # final | checkpoint | imported
    step: int | None
    path: Path
    family: str
    base_model: str
    trigger_word: str | None
    backend: str | None
    sha256: str | None
    size_bytes: int | None
    metadata: dict[str, Any]
    created_at: float

    @property
    def label(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created_at))
        what = f"step {self.step}" if self.kind == "checkpoint" else self.kind
        return f"{self.name} ({what}, {self.family}, {when})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "character_id": self.character_id,
            "character_name": self.character_name,
            "job_id": self.job_id,
            "name": self.name,
            "kind": self.kind,
            "step": self.step,
            "path": str(self.path),
            "family": self.family,
            "base_model": self.base_model,
            "trigger_word": self.trigger_word,
            "backend": self.backend,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at,
        }


class LoraStore:
    def __init__(self, db: Database, paths: Paths):
        self.db = db
        self.paths = paths

    def character_folder(self, character_id: int) -> Path:
        """Beside the character's unique photo folder name, so a new database never shares an old folder."""
        row = self.db.one("SELECT folder FROM characters WHERE id=?", (int(character_id),))
        folder = (row["folder"] if row else None) or f"character-{int(character_id)}"
        return self.paths.loras / safe_component(folder, fallback="lora")

    def record(
        self,
        path: Path,
        *,
        kind: str,
        name: str,
        family: str,
        base_model: str,
        character_id: int | None = None,
        character_name: str | None = None,
        trigger_word: str | None = None,
        job_id: str | None = None,
        step: int | None = None,
        backend: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> LoraRecord:
        path = Path(path).resolve()
        sha = file_sha256(path)
        self.db.execute(
            "INSERT INTO loras(character_id, character_name, job_id, name, kind, step, path, family, base_model,"
            " trigger_word, backend, sha256, size_bytes, metadata, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(path) DO UPDATE SET sha256=excluded.sha256, size_bytes=excluded.size_bytes,"
            " step=excluded.step",
            (
                character_id,
                character_name,
                job_id,
                name,
                kind,
                step,
                str(path),
                family,
                base_model,
                trigger_word,
                backend,
                sha,
                path.stat().st_size,
                dumps(metadata or {}),
                time.time(),
            ),
        )
        record = self.by_path(path)
        assert record is not None
        event("lora.recorded", f"{kind} LoRA {path.name} recorded", lora_id=record.id, kind=kind, step=step)
        return record

    def _rows(self, where: str = "", args: tuple = ()) -> list[LoraRecord]:
        rows = self.db.query(f"SELECT * FROM loras {where} ORDER BY created_at DESC, id DESC", args)
        return [self._record(r) for r in rows]

    @staticmethod
    def _record(row) -> LoraRecord:
        return LoraRecord(
            id=row["id"],
            character_id=row["character_id"],
            character_name=row["character_name"],
            job_id=row["job_id"],
            name=row["name"],
            kind=row["kind"],
            step=row["step"],
            path=Path(row["path"]),
            family=row["family"],
            base_model=row["base_model"],
            trigger_word=row["trigger_word"],
            backend=row["backend"],
            sha256=row["sha256"],
            size_bytes=row["size_bytes"],
            metadata=loads(row["metadata"], {}),
            created_at=row["created_at"],
        )

    def get(self, lora_id: int) -> LoraRecord:
        found = self._rows("WHERE id=?", (int(lora_id),))
        if not found:
            raise InputError(f"There is no LoRA #{lora_id}.")
        return found[0]

    def by_path(self, path: Path) -> LoraRecord | None:
        found = self._rows("WHERE path=?", (str(Path(path).resolve()),))
        return found[0] if found else None

    def for_character(self, character_id: int, kinds: tuple[str, ...] = ("final",)) -> list[LoraRecord]:
        marks = ",".join("?" * len(kinds))
        return [
            r
            for r in self._rows(f"WHERE character_id=? AND kind IN ({marks})", (character_id, *kinds))
            if r.path.exists()
        ]

    def for_job(self, job_id: str) -> list[LoraRecord]:
        return [r for r in self._rows("WHERE job_id=?", (job_id,)) if r.path.exists()]

    def newest_for_character(self, character_id: int) -> LoraRecord | None:
        finals = self.for_character(character_id)
        return finals[0] if finals else None

    def update_metadata(self, lora_id: int, **values: Any) -> None:
        record = self.get(lora_id)
        self.db.execute(
            "UPDATE loras SET metadata=? WHERE id=?", (dumps({**record.metadata, **values}), lora_id)
        )

    def choose_checkpoint(self, final_id: int, path: Path) -> None:
        """The person's own pick among a training's files: Image Gen uses it for the character from now on."""
        record = self.get(final_id)
        chosen = self.by_path(Path(path))
        if chosen is None or chosen.job_id != record.job_id:
            raise InputError("That file is not one of this training's checkpoints.")
        self.update_metadata(final_id, chosen_file=str(chosen.path))
        event("lora.checkpoint_chosen", f"{chosen.name} chosen", lora_id=final_id, path=str(chosen.path))

    def preferred_for_character(self, character_id: int) -> tuple[LoraRecord | None, str | None]:
        """The LoRA to use for a character: from the newest training, the file the person chose, else the
        recommended checkpoint (the one that looks most like them), else its final file; with the reason."""
        newest = self.newest_for_character(character_id)
        if newest is None:
            return None, None
        picked = newest.metadata.get("chosen_file")
        if picked and (chosen := self.by_path(Path(picked))) is not None and chosen.path.exists():
            return chosen, "you chose it in the Training tab."
        rec = newest.metadata.get("recommendation") or {}
        if rec.get("file") and rec["file"] != str(newest.path):
            chosen = self.by_path(Path(rec["file"]))
            if chosen is not None and chosen.path.exists():
                return chosen, rec.get("reason")
        return newest, rec.get("reason") if rec.get("step") else None

    def all(self, kinds: tuple[str, ...] = ("final", "imported")) -> list[LoraRecord]:
        marks = ",".join("?" * len(kinds))
        return [r for r in self._rows(f"WHERE kind IN ({marks})", kinds) if r.path.exists()]

    def files_for_character(self, character_id: int, delete: bool) -> list[Path]:
        """The character's LoRA files (final and checkpoints); removed with their records if `delete`."""
        records = self._rows("WHERE character_id=?", (character_id,))
        paths = [r.path for r in records if r.path.exists()]
        if delete:
            for record in records:
                record.path.unlink(missing_ok=True)
            self.db.execute("DELETE FROM loras WHERE character_id=?", (character_id,))
            folder = self.character_folder(character_id)
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        return paths

    def import_file(self, source: Path, name: str | None = None) -> LoraRecord:
        """Copy a LoRA file from elsewhere into the store (it must be a readable LoRA)."""
        source = Path(source)
        try:
            info = read_lora_info(source)
        except LoraFileError as exc:
            raise InputError(str(exc)) from None
        if info.family is None:
            raise InputError(
                f"Could not tell which model family {source.name} is for from its contents: Isengard reads "
                "LoRAs for FLUX.1, FLUX.2, Z-Image, Qwen-Image, SDXL and SD 1.5."
            )
        stem = safe_component(name or source.stem, fallback="lora")
        digest = file_sha256(source)
        for known in self._rows("WHERE kind='imported' AND sha256=?", (digest,)):
            if known.path.exists():
                return known  # the same file imported again: one copy, the record it already has
        target = reserve_file(self.paths.loras / "imported", stem, ".safetensors")
        atomic_copy(source, target)
        return self.record(
            target,
            kind="imported",
            name=stem,
            family=info.family,
            base_model=info.metadata.get("isengard_base_model", "unknown"),
            trigger_word=info.trigger_word,
            metadata={"original": source.name},
        )

    def keep_final(self, source: Path, character_id: int, name: str, *, move: bool) -> Path:
        """Put a finished LoRA into the store under a name no other file has or had: moved when it is the
        job's own file (one copy on disk, not two), copied otherwise or across file systems."""
        target = reserve_file(self.character_folder(character_id), name, ".safetensors")
        try:
            if move:
                try:
                    os.replace(source, target)  # the reserved empty file is replaced in one step
                    return target
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
            atomic_copy(source, target)
            if move:
                Path(source).unlink(missing_ok=True)
            return target
        except BaseException:
            target.unlink(missing_ok=True)
            raise
