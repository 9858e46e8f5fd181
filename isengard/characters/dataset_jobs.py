"""The dataset jobs of a character: photo checks with the readiness report, and face crops."""

from __future__ import annotations

import time
from typing import Any

from isengard.characters.records import Photo
from isengard.characters.report import PhotoReport, Readiness, readiness
from isengard.errors import InputError
from isengard.jobs import JobContext
from isengard.storage.db import dumps


class DatasetJobsMixin:
    """Part of CharacterService."""

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
        switched: list[int] = []  # photos that now train on their crop (and did not before): what Undo resets
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
                if not photo.use_crop:
                    switched.append(photo.id)
            ctx.progress(step=index, total=len(photos))
        self.write_manifest(params["character_id"])
        ctx.log("dataset.cropped", f"{cropped} photo(s) cropped, {skipped} without a face left as they are")
        return {"cropped": cropped, "skipped": skipped, "switched": switched}

    def undo_autocrop(self, photo_ids: list[int]) -> int:
        """Back to the originals for the photos an auto-crop switched (the crops are kept for later)."""
        changed = 0
        for photo_id in photo_ids:
            try:
                photo = self.photo(int(photo_id))
            except InputError:
                continue  # removed meanwhile
            if photo.use_crop:
                self.db.execute("UPDATE photos SET use_crop=0 WHERE id=?", (photo.id,))
                changed += 1
                character_id = photo.character_id
        if changed:
            self.write_manifest(character_id)
        return changed

    def set_use_crop(self, photo_id: int, use: bool) -> Photo:
        photo = self.photo(photo_id)
        if use and not (photo.crop_path and photo.crop_path.exists()):
            raise InputError("This photo has no cropped version yet; run auto-crop first.")
        self.db.execute("UPDATE photos SET use_crop=? WHERE id=?", (int(bool(use)), photo.id))
        self.write_manifest(photo.character_id)
        return self.photo(photo.id)
