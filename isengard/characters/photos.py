"""Photos of a character: reading them, adding them (checked, normalised, race-safe), removing them."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from isengard.characters.records import AddResult, Character, Photo
from isengard.characters.uploads import check_photo, display_name
from isengard.errors import InputError, storage_failure_reason
from isengard.obs import event
from isengard.storage.db import loads
from isengard.storage.files import atomic_write_bytes


class PhotosMixin:
    """Part of CharacterService (uses its db, paths, folder_of, get and caption helpers)."""

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
