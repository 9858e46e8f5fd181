"""Rebuilding the database from the data folder, and refusing to start a fresh one beside existing data.

A missing or empty database next to photos, LoRAs or pictures is not a fresh install: the studio stops
with a sentence that offers the way back (`python -m isengard recover`, or a backup). `recover` reads
what the files themselves say:

* characters and photos from `uploads/<folder>/` — `character.json` (name, trigger word, original file
  names), each photo's caption from its `.txt`, crops from `<photo>.crop.<ext>`;
* LoRAs from the metadata embedded in each `.safetensors` (trigger word, family, base model, steps);
* pictures from the settings every PNG carries.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from isengard.errors import InputError, StorageError
from isengard.obs import event
from isengard.paths import Paths
from isengard.storage.db import DamagedDatabaseError, Database, database_is_empty, dumps, recovery_hint
from isengard.storage.files import file_sha256

PHOTO_EXTS = (".jpg", ".jpeg", ".png", ".webp")


def person_data(paths: Paths) -> dict[str, int]:
    """How many photos, LoRA files and pictures the data folder holds (what a new database would hide)."""
    photos = sum(1 for folder in _dirs(paths.uploads) for p in _photos_in(folder))
    loras = (
        sum(1 for p in paths.loras.rglob("*.safetensors") if p.stat().st_size > 0)
        if paths.loras.exists()
        else 0
    )
    pictures = (
        sum(1 for p in paths.outputs.rglob("*.png") if p.stat().st_size > 0) if paths.outputs.exists() else 0
    )
    return {"photos": photos, "loras": loras, "pictures": pictures}


def refuse_empty_database_beside_data(paths: Paths) -> None:
    if not database_is_empty(paths.db):
        return
    found = person_data(paths)
    if not any(found.values()):
        return  # a fresh install
    what = ", ".join(f"{n} {kind}" for kind, n in found.items() if n)
    state = "is missing" if not paths.db.exists() else "is empty"
    event("storage.empty_database", f"database {state} beside existing data ({what})", level="ERROR", **found)
    raise StorageError(
        f"Isengard's database {state}, but the data folder still holds your work ({what}). "
        "Isengard will not start over on top of it.",
        hint=recovery_hint(paths.db),
    )


# what the files cannot tell: a recovered database starts these afresh
NOT_REBUILT = (
    "Not rebuilt (the files do not hold them): the job history (past trainings, generations and their "
    "progress) and the likeness scores of past trainings; LoRAs, pictures and photos are all back."
)


@dataclass
class RecoveryReport:
    characters: list[str] = field(default_factory=list)
    photos: int = 0
    loras: int = 0
    checkpoints: int = 0
    pictures: int = 0
    generations: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    moved_aside: str | None = None

    def summary(self) -> str:
        names = ", ".join(self.characters) or "none"
        parts = [
            f"Recovered {len(self.characters)} character(s) ({names}) with {self.photos} photo(s)",
            f"{self.loras} LoRA(s) and {self.checkpoints} checkpoint(s)",
            f"{self.pictures} picture(s) in {self.generations} generation(s)",
        ]
        text = "; ".join(parts) + "."
        if self.skipped:
            text += f" {len(self.skipped)} file(s) could not be read and were left where they are."
        return text + " " + NOT_REBUILT

    def to_dict(self) -> dict[str, Any]:
        return {
            "characters": self.characters,
            "photos": self.photos,
            "loras": self.loras,
            "checkpoints": self.checkpoints,
            "pictures": self.pictures,
            "generations": self.generations,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "moved_aside": self.moved_aside,
            "not_rebuilt": ["job history", "likeness scores"],
            "summary": self.summary(),
        }


def prepare_database(paths: Paths) -> str | None:
    """Move a damaged or empty database aside (never deleted); refuse to touch a healthy one with data."""
    if not paths.db.exists():
        return None
    if not database_is_empty(paths.db):
        try:
            Database(paths.db).close()
        except DamagedDatabaseError:
            pass
        else:
            raise InputError(
                "The database is healthy and holds your characters; there is nothing to recover.",
                hint="To go back to an earlier state, use `recover --backup latest`.",
            )
    aside = paths.db.with_name(f"{paths.db.name}.before-recover-{time.strftime('%Y%m%d-%H%M%S')}")
    paths.db.replace(aside)
    for side in ("-wal", "-shm"):
        extra = paths.db.with_name(paths.db.name + side)
        if extra.exists():
            extra.replace(aside.with_name(aside.name + side))
    return aside.name


def rebuild(db: Database, paths: Paths) -> RecoveryReport:
    report = RecoveryReport()
    by_folder: dict[str, int] = {}
    by_trigger: dict[str, int] = {}
    for folder in _dirs(paths.uploads):
        character_id, trigger = _recover_character(db, folder, report)
        if character_id is not None:
            by_folder[folder.name] = character_id
            by_trigger[trigger] = character_id
    _recover_loras(db, paths, report, by_folder, by_trigger)
    _recover_pictures(db, paths, report, by_trigger)
    event(
        "storage.recovered", report.summary(), **{k: v for k, v in report.to_dict().items() if k != "skipped"}
    )
    return report


# characters and photos -------------------------------------------------------------------------------
def _dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def _photos_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.suffix.lower() in PHOTO_EXTS
        and ".crop." not in p.name
        and not p.name.startswith(".")
        and p.stat().st_size > 0
    )


def _unique(db: Database, column: str, value: str) -> str:
    candidate, n = value, 2
    while db.one(f"SELECT 1 FROM characters WHERE {column}=?", (candidate,)):
        candidate = f"{value}{n}" if column == "trigger_word" else f"{value} ({n})"
        n += 1
    return candidate


def _recover_character(db: Database, folder: Path, report: RecoveryReport) -> tuple[int | None, str]:
    from isengard.characters.manifest import read_manifest
    from isengard.characters.naming import name_key

    photos = _photos_in(folder)
    manifest = read_manifest(folder) or {}
    if not photos and not manifest:
        return None, ""
    captions = {p.name: _read_caption(p) for p in photos}
    trigger = manifest.get("trigger_word") or _likely_trigger(captions.values()) or "recoveredzx"
    trigger = _unique(db, "trigger_word", trigger)
    name = _unique(db, "name", manifest.get("name") or f"Recovered {folder.name}")
    now = time.time()
    cursor = db.execute(
        "INSERT INTO characters(name, name_key, trigger_word, class_word, created_at, updated_at, folder)"
        " VALUES (?,?,?,?,?,?,?)",
        (
            name,
            name_key(name),
            trigger,
            manifest.get("class_word") or "person",
            float(manifest.get("created_at") or now),
            now,
            folder.name,
        ),
    )
    character_id = cursor.lastrowid
    known = manifest.get("photos") or {}
    for path in photos:
        entry = known.get(path.name) or {}
        try:
            _insert_photo(db, character_id, path, entry, captions[path.name] or f"a photo of {trigger}")
            report.photos += 1
        except Exception as exc:
            report.skipped.append((str(path.relative_to(folder.parent)), f"not a readable photo ({exc})"))
    report.characters.append(name)
    return character_id, trigger


def _read_caption(photo: Path) -> str:
    try:
        return " ".join(photo.with_suffix(".txt").read_text(encoding="utf-8").split())
    except OSError:
        return ""


def _likely_trigger(captions) -> str | None:
    """The word most captions share that could be a trigger word, made-up ones first (every caption
    carries the trigger word; suggested ones end in one of the rare suffixes)."""
    from isengard.characters.naming import COMMON_WORDS, RARE_SUFFIXES, TRIGGER_RE

    words = Counter(
        word
        for caption in captions
        for word in {w.strip(",.;:") for w in caption.lower().split()}
        if TRIGGER_RE.match(word) and word not in COMMON_WORDS
    )
    if not words:
        return None
    top = max(words.values())
    common = [w for w, n in words.most_common() if n == top]
    made_up = [w for w in common if w.endswith(RARE_SUFFIXES) or not w.isalpha()]
    return (made_up or common)[0]


def _insert_photo(db: Database, character_id: int, path: Path, entry: dict[str, Any], caption: str) -> None:
    from PIL import Image

    data = path.read_bytes()
    with Image.open(path) as image:
        width, height, fmt = image.width, image.height, image.format or "JPEG"
    crop = path.with_name(f"{path.stem}.crop{path.suffix}")
    db.execute(
        "INSERT INTO photos(character_id, sha256, file_name, original_name, width, height, format, size_bytes,"
        " caption, caption_source, crop_file, use_crop, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            character_id,
            hashlib.sha256(data).hexdigest(),
            path.name,
            entry.get("original_name") or path.name,
            width,
            height,
            fmt,
            len(data),
            caption,
            entry.get("caption_source") or "template",
            crop.name if crop.exists() else None,
            int(bool(entry.get("use_crop")) and crop.exists()),
            path.stat().st_mtime,
        ),
    )


# LoRAs -------------------------------------------------------------------------------------------------
def _recover_loras(
    db: Database, paths: Paths, report: RecoveryReport, by_folder: dict[str, int], by_trigger: dict[str, int]
) -> None:
    candidates = []
    if paths.loras.exists():
        for path in sorted(paths.loras.rglob("*.safetensors")):
            kind = "imported" if path.parent.name == "imported" else "final"
            candidates.append((path, kind, by_folder.get(path.parent.name), None))
    if paths.training_runs.exists():
        for path in sorted(paths.training_runs.rglob("*.safetensors")):
            step = path.stem.rsplit("_", 1)[-1]
            if step.isdigit():
                candidates.append((path, "checkpoint", None, path.relative_to(paths.training_runs).parts[0]))
    for path, kind, character_id, job_id in candidates:
        _recover_lora(db, paths, report, path, kind, character_id, job_id, by_trigger)


def _recover_lora(db, paths, report, path, kind, character_id, job_id, by_trigger) -> None:
    from plugins.lora_format import LoraFileError, read_lora_info

    if path.stat().st_size == 0:
        return  # a name reserved by a write that never finished
    try:
        info = read_lora_info(path)
    except LoraFileError as exc:
        report.skipped.append((str(path.relative_to(paths.data)), str(exc)))
        return
    meta = info.metadata
    trigger = info.trigger_word
    if character_id is None and trigger:
        character_id = by_trigger.get(trigger)
    name_row = db.one("SELECT name FROM characters WHERE id=?", (character_id,)) if character_id else None
    steps = meta.get("isengard_steps")
    step = (
        int(path.stem.rsplit("_", 1)[-1])
        if kind == "checkpoint"
        else (int(steps) if (steps or "").isdigit() else None)
    )
    db.execute(
        "INSERT OR IGNORE INTO loras(character_id, character_name, job_id, name, kind, step, path, family,"
        " base_model, trigger_word, backend, sha256, size_bytes, metadata, created_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            character_id,
            name_row["name"] if name_row else None,
            job_id,
            meta.get("ss_output_name") or path.stem,
            kind,
            step,
            str(path.resolve()),
            info.family or "unknown",
            meta.get("isengard_base_model") or meta.get("ss_sd_model_name") or "unknown",
            trigger,
            (meta.get("isengard_backend") or "").split(" ")[0] or None,
            file_sha256(path),
            path.stat().st_size,
            dumps({"recovered": True}),
            path.stat().st_mtime,
        ),
    )
    if kind == "checkpoint":
        report.checkpoints += 1
    else:
        report.loras += 1


# pictures ----------------------------------------------------------------------------------------------
def _recover_pictures(db: Database, paths: Paths, report: RecoveryReport, by_trigger: dict[str, int]) -> None:
    from isengard.generation.metadata import JSON_CHUNK, read_png_text

    groups: dict[str, dict[str, Any]] = {}
    if not paths.outputs.exists():
        return
    for path in sorted(paths.outputs.rglob("*.png")):
        if path.stat().st_size == 0:
            continue
        try:
            request = json.loads(read_png_text(path).get(JSON_CHUNK) or "null")
        except Exception as exc:
            report.skipped.append((str(path.relative_to(paths.data)), f"not a readable picture ({exc})"))
            continue
        if not isinstance(request, dict):
            report.skipped.append(
                (str(path.relative_to(paths.data)), "a picture without Isengard's settings")
            )
            continue
        gen_id = str(request.get("generation_id") or path.stem.rsplit("_", 1)[0])
        group = groups.setdefault(gen_id, {"request": request, "images": [], "created": path.stat().st_mtime})
        group["images"].append({"path": str(path), "seed": request.get("seed")})
        report.pictures += 1
    for gen_id, group in groups.items():
        request = group["request"]
        prompt = str(request.get("prompt") or "")
        character_id = next(
            (cid for t, cid in by_trigger.items() if re.search(rf"\b{re.escape(t)}\b", prompt)), None
        )
        params = {k: v for k, v in request.items() if k not in ("generation_id",)} | {
            "count": len(group["images"])
        }
        db.execute(
            "INSERT OR IGNORE INTO generations(id, job_id, created_at, backend, base_model, prompt, negative_prompt,"
            " params, images, notes, character_id, correlation_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                gen_id,
                None,
                group["created"],
                str(request.get("backend") or "unknown"),
                str(request.get("base_model") or "unknown"),
                prompt,
                str(request.get("negative_prompt") or ""),
                dumps(params),
                dumps(group["images"]),
                dumps(["Recovered from the picture's own settings."]),
                character_id,
                None,
            ),
        )
        report.generations += 1
