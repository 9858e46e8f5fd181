"""`character.json` beside a character's photos: what `recover` needs to rebuild the database from files.

The database stays the source of truth; the manifest is its projection, rewritten atomically after every
change of the character or its photos. Captions live beside each photo as `.txt` already.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from isengard.obs import event
from isengard.storage.files import atomic_write_json

MANIFEST = "character.json"
FORMAT = 1


def write_manifest(db, folder: Path, character_id: int) -> None:
    row = db.one("SELECT * FROM characters WHERE id=?", (int(character_id),))
    if row is None or not folder.exists():
        return
    photos = db.query(
        "SELECT file_name, original_name, caption_source, crop_file, use_crop FROM photos"
        " WHERE character_id=? ORDER BY id",
        (int(character_id),),
    )
    data = {
        "format": FORMAT,
        "name": row["name"],
        "trigger_word": row["trigger_word"],
        "class_word": row["class_word"],
        "created_at": row["created_at"],
        "photos": {
            p["file_name"]: {
                "original_name": p["original_name"],
                "caption_source": p["caption_source"],
                "crop_file": p["crop_file"],
                "use_crop": bool(p["use_crop"]),
            }
            for p in photos
        },
    }
    try:
        atomic_write_json(folder / MANIFEST, data)
    except OSError as exc:  # the database has it; a later change rewrites the manifest
        event("character.manifest_failed", f"character.json not written: {exc}", level="WARNING")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
