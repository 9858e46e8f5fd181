"""The characters service: people, their photos, dataset checks, captions and crops.

Shared by the Characters tab and `python -m isengard character …`. Photos live in
`uploads/character-<id>/<sha256[:16]>.<ext>` with the caption beside them as `.txt`; the database keeps
the original file name, the caption and the check results.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isengard.characters import naming
from isengard.characters.manifest import write_manifest
from isengard.characters.report import PhotoReport, Readiness, readiness
from isengard.characters.uploads import MAX_FILE_MB, check_photo, display_name
from isengard.errors import InputError, NotAvailableError, storage_failure_reason
from isengard.jobs import JobContext, JobRunner
from isengard.obs import event
from isengard.paths import Paths
from isengard.storage.db import Database, dumps, loads
from isengard.storage.files import atomic_write_bytes, atomic_write_text, reserve_folder
from plugins.base import PluginRegistry
from plugins.captioning.interface import Captioner, CaptionRequest
from plugins.training.interface import DatasetItem

DEFAULT_CAPTION = "a photo of {trigger}, a {class_word}"


@dataclass
class Photo:
    id: int
    character_id: int
    sha256: str
    path: Path
    original_name: str
    width: int
    height: int
    format: str
    size_bytes: int
    caption: str
    caption_source: str
    checks: dict[str, Any] | None
    crop_path: Path | None
    use_crop: bool

    @property
    def training_path(self) -> Path:
        return self.crop_path if self.use_crop and self.crop_path and self.crop_path.exists() else self.path

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "original_name": self.original_name,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "caption": self.caption,
            "caption_source": self.caption_source,
            "checks": {k: v for k, v in (self.checks or {}).items() if k != "embedding"},
            "crop_path": str(self.crop_path) if self.crop_path else None,
            "use_crop": self.use_crop,
        }


@dataclass
class Character:
    id: int
    name: str
    trigger_word: str
    class_word: str
    created_at: float
    photo_count: int = 0
    cover: Path | None = None
    folder: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "trigger_word": self.trigger_word,
            "class_word": self.class_word,
            "photo_count": self.photo_count,
            "cover": str(self.cover) if self.cover else None,
            "created_at": self.created_at,
        }


@dataclass
class AddResult:
    added: list[Photo] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (original name, reason)
    duplicates: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [_count(len(self.added), "photo") + " added"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already added")
        if self.rejected:
            parts.append(f"{len(self.rejected)} not added")
        return ", ".join(parts) + "."

    def lines(self) -> list[str]:
        """One line per file that was not added, with its reason (the per-file summary)."""
        out = [f"{name}: {reason}" for name, reason in self.rejected]
        out += [f"{name}: already added" for name in self.duplicates]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": [p.to_dict() for p in self.added],
            "rejected": [{"file": name, "reason": reason} for name, reason in self.rejected],
            "duplicates": self.duplicates,
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _link_or_copy(source: Path, target: Path) -> Path | None:
    """A private link (or copy) of a photo; None when the photo is gone already."""
    import os

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileNotFoundError:
        return None
    except OSError:
        try:
            shutil.copy2(source, target)
        except FileNotFoundError:
            return None
    return target


def _caption_uses_gpu(params: dict[str, Any]) -> bool:
    return params.get("captioner") != "template"  # the template captioner is instant CPU work


class CharacterService:
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
            raise InputError(f"There is already a character called {name!r}.", hint="Pick another name.")
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
            raise InputError(f"The trigger word '{word}' is already used by another character.")

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

    # photos -----------------------------------------------------------------------------------------
    def photos(self, ref: int | str) -> list[Photo]:
        character = self.get(ref)
        rows = self.db.query("SELECT * FROM photos WHERE character_id=? ORDER BY id", (character.id,))
        return [self._photo(r) for r in rows]

    def photo(self, photo_id: int) -> Photo:
        row = self.db.one("SELECT * FROM photos WHERE id=?", (int(photo_id),))
        if row is None:
            raise InputError(f"There is no photo #{photo_id}.")
        return self._photo(row)

    def _photo(self, row) -> Photo:
        folder = self.folder_of(row["character_id"])
        return Photo(
            id=row["id"],
            character_id=row["character_id"],
            sha256=row["sha256"],
            path=folder / row["file_name"],
            original_name=row["original_name"],
            width=row["width"],
            height=row["height"],
            format=row["format"],
            size_bytes=row["size_bytes"],
            caption=row["caption"],
            caption_source=row["caption_source"],
            checks=loads(row["checks"]),
            crop_path=folder / row["crop_file"] if row["crop_file"] else None,
            use_crop=bool(row["use_crop"]),
        )

    def add_photos(self, ref: int | str, files: list[tuple[Path, str | None]]) -> AddResult:
        """Store every good file; list every other one with its reason. One bad file never stops the rest.

        Safe to run twice at once with the same photos (two tabs): the database decides who adds a photo,
        the other reports "already added", and nothing of the winner's is ever removed.
        """
        character = self.get(ref)
        folder = self.folder_of(character.id)
        result = AddResult()
        default_caption = self.default_caption(character)
        for path, original in files:
            name = display_name(original or Path(path).name)
            try:
                photo = self._add_one(character, folder, Path(path), name, default_caption, result)
            except InputError as exc:
                result.rejected.append((name, exc.message))
                continue
            except Exception as exc:  # an unreadable file, a full disk: this file fails, the batch goes on
                reason = storage_failure_reason(exc) or "the file could not be read or stored"
                result.rejected.append((name, reason))
                event(
                    "character.photo_failed",
                    f"{name} could not be added: {type(exc).__name__}: {exc}",
                    level="WARNING",
                    character_id=character.id,
                )
                continue
            if photo is not None:
                result.added.append(photo)
        if result.added:
            self.write_manifest(character.id)
        event(
            "character.photos_added",
            f"{character.name}: {result.summary()}",
            character_id=character.id,
            added=len(result.added),
            rejected=[{"file": n, "reason": r} for n, r in result.rejected],
            duplicates=len(result.duplicates),
        )
        return result

    def _add_one(
        self, character: Character, folder: Path, path: Path, name: str, caption: str, result: AddResult
    ) -> Photo | None:
        checked = check_photo(path, name, max_mb=self.max_upload_mb)
        if self.db.one(
            "SELECT 1 FROM photos WHERE character_id=? AND sha256=?", (character.id, checked.sha256)
        ) or any(p.sha256 == checked.sha256 for p in result.added):
            result.duplicates.append(checked.original_name)
            return None
        file_name = f"{checked.sha256[:16]}{checked.ext}"
        target = folder / file_name
        existed = target.exists()
        if not existed:
            atomic_write_bytes(target, checked.data)
        try:
            cursor = self.db.execute(
                "INSERT INTO photos(character_id, sha256, file_name, original_name, width, height, format,"
                " size_bytes, caption, caption_source, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    character.id,
                    checked.sha256,
                    file_name,
                    checked.original_name,
                    checked.width,
                    checked.height,
                    checked.format,
                    len(checked.data),
                    caption,
                    "template",
                    time.time(),
                ),
            )
        except sqlite3.IntegrityError:
            # Another upload of the same photo won the race (or the character was deleted meanwhile).
            if self.db.one("SELECT 1 FROM characters WHERE id=?", (character.id,)) is None:
                raise InputError(f"{character.name} was deleted while the photos were being added.") from None
            result.duplicates.append(checked.original_name)
            return None
        except BaseException:
            if not existed and not self.db.one(
                "SELECT 1 FROM photos WHERE character_id=? AND file_name=?", (character.id, file_name)
            ):
                target.unlink(missing_ok=True)
            raise
        photo = self.photo(cursor.lastrowid)
        self._write_caption_file(photo)
        return photo

    def remove_photo(self, photo_id: int) -> None:
        photo = self.photo(photo_id)
        self.db.execute("DELETE FROM photos WHERE id=?", (photo.id,))
        for path in (photo.path, photo.path.with_suffix(".txt"), photo.crop_path):
            if path:
                path.unlink(missing_ok=True)
        self.write_manifest(photo.character_id)
        event("character.photo_removed", f"photo #{photo.id} removed", character_id=photo.character_id)

    # captions ---------------------------------------------------------------------------------------
    def default_caption(self, character: Character) -> str:
        return DEFAULT_CAPTION.format(trigger=character.trigger_word, class_word=character.class_word)

    def set_caption(self, photo_id: int, text: str) -> tuple[Photo, str | None]:
        """Save an edited caption. Returns (photo, note): the trigger word is added if it was left out."""
        photo = self.photo(photo_id)
        character = self.get(photo.character_id)
        caption = " ".join((text or "").split())
        note = None
        if not caption:
            raise InputError("A caption can't be empty; describe the photo in a few words.")
        if len(caption) > 1000:
            raise InputError("That caption is very long; keep it under 1000 characters.")
        if not re.search(rf"\b{re.escape(character.trigger_word)}\b", caption):
            caption = f"{character.trigger_word}, {caption}"
            note = (
                f"The trigger word '{character.trigger_word}' was added at the start: every caption needs it."
            )
        self.db.execute("UPDATE photos SET caption=?, caption_source='user' WHERE id=?", (caption, photo.id))
        photo = self.photo(photo.id)
        self._write_caption_file(photo)
        event(
            "character.caption_edited",
            f"caption of photo #{photo.id} edited",
            character_id=photo.character_id,
        )
        return photo, note

    def _write_caption_file(self, photo: Photo) -> None:
        if not photo.path.exists():  # removed meanwhile: leave no orphan caption behind
            return
        atomic_write_text(photo.path.with_suffix(".txt"), photo.caption + "\n")
        if self.db.one("SELECT 1 FROM photos WHERE id=?", (photo.id,)) is None:
            photo.path.with_suffix(".txt").unlink(missing_ok=True)

    def export_captions(self, ref: int | str) -> int:
        photos = self.photos(ref)
        for photo in photos:
            self._write_caption_file(photo)
        return len(photos)

    def captioner(self, name: str) -> Captioner:
        try:
            plugin = self.registry.get("captioning", name)
        except KeyError:
            raise InputError(f"There is no captioner called {name!r}.") from None
        assert isinstance(plugin, Captioner)
        return plugin

    def submit_captions(
        self,
        ref: int | str,
        *,
        captioner: str = "template",
        template: str | None = None,
        keep_edited: bool = True,
    ) -> str:
        character = self.get(ref)
        if character.photo_count == 0:
            raise InputError(f"{character.name} has no photos to caption yet.")
        plugin = self.captioner(captioner)
        avail = plugin.availability()
        if not avail.ok:
            raise NotAvailableError(f"The {plugin.label} captioner is not available: {avail.reason}")
        return self.runner.submit(
            "caption",
            {
                "character_id": character.id,
                "captioner": captioner,
                "template": template,
                "keep_edited": keep_edited,
            },
            title=f"Caption {character.name}'s photos ({plugin.label})",
        )

    def _run_captions(self, ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        character = self.get(params["character_id"])
        photos = [
            p
            for p in self.photos(character.id)
            if not (params.get("keep_edited") and p.caption_source == "user")
        ]
        plugin = self.captioner(params["captioner"])
        snapshot = self.paths.scratch(f"caption-{ctx.job_id}")
        try:
            # The captioner reads its own links to the photos: one removed meanwhile can't break the job.
            linked = [(p, _link_or_copy(p.path, snapshot / p.path.name)) for p in photos]
            photos = [p for p, image in linked if image is not None]
            images = [image for _, image in linked if image is not None]
            request = CaptionRequest(
                images=images,
                trigger_word=character.trigger_word,
                class_word=character.class_word,
                template=params.get("template") or DEFAULT_CAPTION,
            )
            result = plugin.run(request, ctx)
        finally:
            shutil.rmtree(snapshot, ignore_errors=True)
        if len(result.captions) != len(photos):
            raise RuntimeError(
                f"the {plugin.name} captioner returned {len(result.captions)} captions for {len(photos)} photos"
            )
        source = "template" if plugin.name == "template" else "model"
        with self.db.transaction() as conn:  # photos removed meanwhile simply match no row
            for photo, caption in zip(photos, result.captions, strict=True):
                conn.execute(
                    "UPDATE photos SET caption=?, caption_source=? WHERE id=?", (caption, source, photo.id)
                )
        self.export_captions(character.id)
        ctx.log("caption.done", f"{len(photos)} caption(s) written", captioner=plugin.name)
        return {"captioned": len(photos), "skipped_edited": character.photo_count - len(photos)}

    # checks -----------------------------------------------------------------------------------------
    def submit_checks(self, ref: int | str, *, only_new: bool = False) -> str:
        character = self.get(ref)
        return self.runner.submit(
            "dataset_check",
            {"character_id": character.id, "only_new": only_new},
            title=f"Check {character.name}'s photos",
        )

    def _run_checks(self, ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        from isengard.characters.checks import FaceAnalyzer, measure_photo, set_level

        character = self.get(params["character_id"])
        photos = self.photos(character.id)
        todo = [p for p in photos if not (params.get("only_new") and p.checks and "dhash" in p.checks)]
        ctx.progress(phase="checking", step=0, total=len(todo), message="Loading face detectors")
        analyzer = FaceAnalyzer.shared()
        started = time.monotonic()
        measured = {p.id: dict(p.checks or {}) for p in photos}
        for index, photo in enumerate(todo, 1):
            ctx.check_cancelled()
            try:
                measured[photo.id] = measure_photo(photo.path, analyzer)
            except OSError as exc:
                measured[photo.id] = {"error": f"could not read the photo: {exc}"}
            self.db.execute("UPDATE photos SET checks=? WHERE id=?", (dumps(measured[photo.id]), photo.id))
            ctx.progress(step=index, total=len(todo), message=f"Checked {photo.original_name}")
        set_results = set_level([(pid, m) for pid, m in measured.items() if m and "dhash" in m])
        with self.db.transaction() as conn:
            for pid, extra in set_results.items():
                measured[pid].update(extra)
                conn.execute("UPDATE photos SET checks=? WHERE id=?", (dumps(measured[pid]), pid))
        elapsed = time.monotonic() - started
        state, _ = self.report(character.id)
        ctx.log(
            "dataset.checked",
            f"{len(todo)} photo(s) checked in {elapsed:.1f}s",
            seconds=round(elapsed, 3),
            status=state.status,
        )
        return {"checked": len(todo), "seconds": round(elapsed, 3), "readiness": state.to_dict()}

    def report(
        self, ref: int | str, training_resolution: int = 1024
    ) -> tuple[Readiness, dict[int, PhotoReport]]:
        photos = self.photos(ref)
        return readiness({p.id: p.checks for p in photos}, training_resolution)

    # crops ------------------------------------------------------------------------------------------
    def submit_autocrop(self, ref: int | str) -> str:
        character = self.get(ref)
        if character.photo_count == 0:
            raise InputError(f"{character.name} has no photos to crop yet.")
        return self.runner.submit(
            "autocrop", {"character_id": character.id}, title=f"Auto-crop {character.name}'s photos"
        )

    def _run_autocrop(self, ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        from PIL import Image

        from isengard.characters.crop import face_crop_box
        from isengard.storage.files import atomic_save

        photos = self.photos(params["character_id"])
        cropped = skipped = 0
        for index, photo in enumerate(photos, 1):
            ctx.check_cancelled()
            box = (photo.checks or {}).get("face_box")
            if not box:
                skipped += 1
            else:
                crop_name = f"{photo.path.stem}.crop{photo.path.suffix}"
                with Image.open(photo.path) as opened:
                    image = opened.copy()
                region = image.crop(face_crop_box(image.width, image.height, tuple(box)))
                fmt = photo.format if photo.format in ("JPEG", "PNG", "WEBP") else "PNG"
                atomic_save(
                    photo.path.with_name(crop_name),
                    lambda tmp, r=region, f=fmt: r.save(tmp, format=f, quality=95),
                )
                self.db.execute("UPDATE photos SET crop_file=?, use_crop=1 WHERE id=?", (crop_name, photo.id))
                cropped += 1
            ctx.progress(step=index, total=len(photos))
        ctx.log("dataset.cropped", f"{cropped} photo(s) cropped, {skipped} without a face left as they are")
        return {"cropped": cropped, "skipped": skipped}

    def set_use_crop(self, photo_id: int, use: bool) -> Photo:
        photo = self.photo(photo_id)
        if use and not (photo.crop_path and photo.crop_path.exists()):
            raise InputError("This photo has no cropped version yet; run auto-crop first.")
        self.db.execute("UPDATE photos SET use_crop=? WHERE id=?", (int(bool(use)), photo.id))
        return self.photo(photo.id)

    # for training -----------------------------------------------------------------------------------
    def dataset(self, ref: int | str) -> list[DatasetItem]:
        return [DatasetItem(p.training_path, p.caption) for p in self.photos(ref)]
