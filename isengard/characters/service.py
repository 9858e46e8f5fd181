"""The characters service: people, their photos, dataset checks, captions and crops.

Shared by the Characters tab and `python -m isengard character …`. Photos live in
`uploads/<name>-<random>/<sha256[:16]>.<ext>` — a folder name no other character ever had, stored with the
character — with the caption beside each as `.txt` and `character.json` for `recover`; the database
keeps the original file name, the caption and the check results.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from isengard.characters import naming
from isengard.characters.captions import DEFAULT_CAPTION, CaptionsMixin, _caption_uses_gpu  # noqa: F401
from isengard.characters.dataset_jobs import DatasetJobsMixin
from isengard.characters.manifest import write_manifest
from isengard.characters.photos import PhotosMixin
from isengard.characters.records import AddResult, Character, Photo  # noqa: F401
from isengard.characters.trash import TrashMixin
from isengard.characters.uploads import MAX_FILE_MB
from isengard.errors import InputError
from isengard.jobs import JobRunner
from isengard.obs import event
from isengard.paths import Paths
from isengard.storage.db import Database
from isengard.storage.files import reserve_folder
from plugins.base import PluginRegistry
from plugins.training.interface import DatasetItem


class CharacterService(PhotosMixin, TrashMixin, CaptionsMixin, DatasetJobsMixin):
    """Characters and their names; photos, captions and dataset jobs come from the mixins beside it."""

    def __init__(
        self,
        *,
        db: Database,
        paths: Paths,
        runner: JobRunner,
        registry: PluginRegistry,
        max_upload_mb: int = MAX_FILE_MB,
    ):
        self.db = db
        self.paths = paths
        self.runner = runner
        self.registry = registry
        self.max_upload_mb = max_upload_mb
        self._lora_cleanups: list = []
        self._folders: dict[int, str] = {}
        self._manifest_lock = threading.Lock()
        runner.register("dataset_check", self._run_checks, uses_gpu=False)
        runner.register("caption", self._run_captions, uses_gpu=_caption_uses_gpu)
        runner.register("autocrop", self._run_autocrop, uses_gpu=False)

    # characters -------------------------------------------------------------------------------------
    def taken_triggers(self, except_id: int | None = None) -> set[str]:
        rows = self.db.query("SELECT id, trigger_word FROM characters")
        return {r["trigger_word"] for r in rows if r["id"] != except_id}

    def suggest_trigger(self, name: str) -> str:
        return naming.suggest_trigger(name or "", self.taken_triggers())

    def create(self, name: str, trigger: str | None = None, class_word: str = "person") -> Character:
        name = naming.clean_name(name)
        key = naming.name_key(name)
        if self.db.one("SELECT 1 FROM characters WHERE name_key=?", (key,)):
            raise InputError(
                f"There is already a character called {name!r}.", hint="Pick another name.", field="name"
            )
        word = naming.clean_trigger(trigger) if trigger else self.suggest_trigger(name)
        self._check_trigger_free(word)
        class_word = naming.clean_class_word(class_word)
        now = time.time()
        # A folder name that never existed before: a new database next to old data can't reuse a folder.
        folder = reserve_folder(self.paths.uploads, naming.folder_stem(name, word))
        try:
            cursor = self.db.execute(
                "INSERT INTO characters(name, name_key, trigger_word, class_word, created_at, updated_at, folder)"
                " VALUES (?,?,?,?,?,?,?)",
                (name, key, word, class_word, now, now, folder.name),
            )
        except sqlite3.IntegrityError:
            folder.rmdir()
            raise InputError(
                f"There is already a character called {name!r} or with the trigger word '{word}'.",
                hint="Pick another name.",
            ) from None
        except BaseException:
            folder.rmdir()
            raise
        character = self.get(cursor.lastrowid)
        self.write_manifest(character.id)
        event("character.created", f"character {name!r} created", character_id=character.id, trigger=word)
        return character

    def _check_trigger_free(self, word: str, except_id: int | None = None) -> None:
        if word in self.taken_triggers(except_id):
            raise InputError(
                f"The trigger word '{word}' is already used by another character.", field="trigger"
            )

    def list(self) -> list[Character]:
        rows = self.db.query(
            "SELECT c.*, (SELECT count(*) FROM photos p WHERE p.character_id=c.id) AS n,"
            " (SELECT file_name FROM photos p WHERE p.character_id=c.id ORDER BY p.id LIMIT 1) AS cover"
            " FROM characters c ORDER BY c.created_at"
        )
        return [self._character(r) for r in rows]

    def _character(self, row) -> Character:
        folder = row["folder"] or f"character-{row['id']}"
        self._folders[row["id"]] = folder
        cover = self.paths.character_dir(folder) / row["cover"] if row["cover"] else None
        return Character(
            row["id"],
            row["name"],
            row["trigger_word"],
            row["class_word"],
            row["created_at"],
            row["n"],
            cover,
            folder,
        )

    def folder_of(self, character_id: int) -> Path:
        """The character's photo folder (its name is stored with the character and never changes)."""
        name = self._folders.get(int(character_id))
        if name is None:
            row = self.db.one("SELECT folder FROM characters WHERE id=?", (int(character_id),))
            name = (row["folder"] if row else None) or f"character-{int(character_id)}"
            self._folders[int(character_id)] = name
        return self.paths.character_dir(name)

    def write_manifest(self, character_id: int) -> None:
        """Keep `character.json` beside the photos so `recover` can rebuild the database from files."""
        with self._manifest_lock:
            write_manifest(self.db, self.folder_of(character_id), character_id)

    def get(self, ref: int | str) -> Character:
        """A character by id, or by name (case and accents ignored)."""
        sql = (
            "SELECT c.*, (SELECT count(*) FROM photos p WHERE p.character_id=c.id) AS n,"
            " (SELECT file_name FROM photos p WHERE p.character_id=c.id ORDER BY p.id LIMIT 1) AS cover"
            " FROM characters c WHERE "
        )
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and not self._by_name(ref)):
            row = self.db.one(sql + "c.id=?", (int(ref),))
        else:
            row = self.db.one(sql + "c.name_key=?", (naming.name_key(str(ref).strip()),))
        if row is None:
            raise InputError(f"There is no character {ref!r}.")
        return self._character(row)

    def _by_name(self, name: str) -> bool:
        return self.db.one("SELECT 1 FROM characters WHERE name_key=?", (naming.name_key(name),)) is not None

    def rename(self, ref: int | str, new_name: str) -> Character:
        character = self.get(ref)
        name = naming.clean_name(new_name)
        key = naming.name_key(name)
        clash = self.db.one("SELECT id FROM characters WHERE name_key=?", (key,))
        if clash and clash["id"] != character.id:
            raise InputError(f"There is already a character called {name!r}.")
        self.db.execute(
            "UPDATE characters SET name=?, name_key=?, updated_at=? WHERE id=?",
            (name, key, time.time(), character.id),
        )
        event("character.renamed", f"{character.name!r} renamed to {name!r}", character_id=character.id)
        self.write_manifest(character.id)
        return self.get(character.id)

    def set_trigger(self, ref: int | str, trigger: str) -> Character:
        """Change the trigger word; every caption that used the old one is updated."""
        character = self.get(ref)
        word = naming.clean_trigger(trigger)
        if word == character.trigger_word:
            return character
        self._check_trigger_free(word, character.id)
        old = re.compile(rf"\b{re.escape(character.trigger_word)}\b")
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE characters SET trigger_word=?, updated_at=? WHERE id=?",
                (word, time.time(), character.id),
            )
            for row in conn.execute("SELECT id, caption FROM photos WHERE character_id=?", (character.id,)):
                conn.execute(
                    "UPDATE photos SET caption=? WHERE id=?", (old.sub(word, row["caption"]), row["id"])
                )
        self.export_captions(character.id)
        self.write_manifest(character.id)
        event(
            "character.trigger_changed",
            f"trigger word {character.trigger_word} → {word}",
            character_id=character.id,
        )
        return self.get(character.id)

    def set_class_word(self, ref: int | str, class_word: str) -> Character:
        character = self.get(ref)
        word = naming.clean_class_word(class_word)
        self.db.execute(
            "UPDATE characters SET class_word=?, updated_at=? WHERE id=?", (word, time.time(), character.id)
        )
        self.write_manifest(character.id)
        return self.get(character.id)

    def on_delete_loras(self, callback) -> None:
        """The LoRA store registers how to list and remove a character's LoRAs."""
        self._lora_cleanups.append(callback)

    def delete_plan(self, ref: int | str) -> dict[str, Any]:
        """What deleting would remove, for the confirmation message."""
        character = self.get(ref)
        folder = self.folder_of(character.id)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
        loras = [path for cleanup in self._lora_cleanups for path in cleanup(character.id, False)]
        return {
            "character": character.to_dict(),
            "photos": character.photo_count,
            "photo_bytes": size,
            "photo_folder": str(folder),
            "loras": [str(p) for p in loras],
        }

    def busy_with(self, character_id: int) -> list[str]:
        """Titles of the jobs not yet ended that use this character (training, checks, captions…)."""
        return [job.title for job in self.runner.active_for("character_id", int(character_id))]

    def refuse_if_busy(self, character: Character, doing: str) -> None:
        busy = self.busy_with(character.id)
        if busy:
            what = "is training" if any(t.startswith("Train") for t in busy) else "has work running"
            raise InputError(
                f"{character.name} {what} — cancel it first, then {doing}.",
                hint=f"Running: {'; '.join(busy)}.",
            )

    def delete(self, ref: int | str, *, with_loras: bool = False) -> dict[str, Any]:
        plan = self.delete_plan(ref)
        character_id = plan["character"]["id"]
        self.refuse_if_busy(self.get(character_id), "delete")
        folder = self.folder_of(character_id)
        removed_loras = []
        if with_loras:
            removed_loras = [str(p) for cleanup in self._lora_cleanups for p in cleanup(character_id, True)]
        self.db.execute("DELETE FROM characters WHERE id=?", (character_id,))
        shutil.rmtree(folder, ignore_errors=True)
        self._folders.pop(character_id, None)
        event(
            "character.deleted",
            f"character {plan['character']['name']!r} deleted",
            character_id=character_id,
            photos=plan["photos"],
            loras_deleted=len(removed_loras),
        )
        return plan | {"loras_deleted": removed_loras, "loras_kept": [] if with_loras else plan["loras"]}

    # for training -----------------------------------------------------------------------------------
    def dataset(self, ref: int | str) -> list[DatasetItem]:
        return [DatasetItem(p.training_path, p.caption) for p in self.photos(ref)]

    def photo_names(self, ref: int | str) -> dict[Path, str]:
        """Each training file's name as the person knows it (the name it was uploaded with)."""
        return {p.training_path: p.original_name for p in self.photos(ref)}
