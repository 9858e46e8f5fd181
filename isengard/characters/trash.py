"""Removing photos so that it can be undone: the photos' rows go into a small manifest and their files
(photo, caption file, crop) move into `data/trash/<token>/` — a rename on the same disk, so nothing is
copied and a full disk cannot stop it. Undo moves them back and restores the rows with their own ids
(AUTOINCREMENT never hands an id out twice, so they are still free). Trash older than a day is emptied
when something new is removed."""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from isengard.errors import InputError
from isengard.obs import event
from isengard.storage.files import atomic_write_text

KEEP_SECONDS = 24 * 3600
COLUMNS = (
    "id",
    "character_id",
    "sha256",
    "file_name",
    "original_name",
    "width",
    "height",
    "format",
    "size_bytes",
    "caption",
    "caption_source",
    "checks",
    "crop_file",
    "use_crop",
    "created_at",
)


class TrashMixin:
    """Part of CharacterService (uses its db, paths, folder_of, photo and write_manifest)."""

    @property
    def trash_dir(self) -> Path:
        return self.paths.data / "trash"

    def remove_photos(self, photo_ids: list[int]) -> str:
        """Remove the photos (of one character); returns the token that undoes it."""
        photos = [self.photo(int(pid)) for pid in dict.fromkeys(photo_ids)]
        if not photos:
            raise InputError("Pick the photos to remove first.")
        if len({p.character_id for p in photos}) > 1:
            raise InputError("Those photos belong to different characters.")
        self._empty_old_trash()
        token = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder = self.trash_dir / token
        folder.mkdir(parents=True)
        marks = ",".join("?" * len(photos))
        rows = self.db.query(f"SELECT * FROM photos WHERE id IN ({marks})", [p.id for p in photos])
        manifest = {
            "character_id": photos[0].character_id,
            "rows": [{c: row[c] for c in COLUMNS} for row in rows],
        }
        atomic_write_text(folder / "manifest.json", json.dumps(manifest))  # first: undo knows what was there
        self.db.execute(f"DELETE FROM photos WHERE id IN ({marks})", [p.id for p in photos])
        for photo in photos:
            for path in (photo.path, photo.path.with_suffix(".txt"), photo.crop_path):
                if path and path.exists():
                    os.replace(path, folder / path.name)
        self.write_manifest(photos[0].character_id)
        event(
            "character.photos_removed",
            f"{len(photos)} photo(s) removed (undo {token})",
            character_id=photos[0].character_id,
            photos=[p.id for p in photos],
            undo=token,
        )
        return token

    def undo_remove(self, token: str) -> int:
        """Put removed photos back exactly as they were; returns how many."""
        folder = self.trash_dir / Path(str(token)).name
        manifest_file = folder / "manifest.json"
        if not manifest_file.exists():
            raise InputError("Those photos can no longer be brought back (the undo has expired).")
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        character_id = manifest["character_id"]
        target = self.folder_of(character_id)
        target.mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            if item.name != "manifest.json":
                os.replace(item, target / item.name)
        with self.db.transaction() as conn:
            for row in manifest["rows"]:
                conn.execute(
                    f"INSERT OR IGNORE INTO photos({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})",
                    [row[c] for c in COLUMNS],
                )
        shutil.rmtree(folder, ignore_errors=True)
        self.write_manifest(character_id)
        event(
            "character.photos_restored",
            f"{len(manifest['rows'])} photo(s) restored",
            character_id=character_id,
        )
        return len(manifest["rows"])

    def _empty_old_trash(self) -> None:
        if not self.trash_dir.exists():
            return
        cutoff = time.time() - KEEP_SECONDS
        for folder in self.trash_dir.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
