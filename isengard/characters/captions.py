"""Captions of a character's photos: edits, caption files beside the photos, and the caption job."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from isengard.characters.records import Character, Photo
from isengard.errors import InputError, NotAvailableError
from isengard.jobs import JobContext
from isengard.obs import event
from isengard.storage.files import atomic_write_text
from plugins.captioning.interface import Captioner, CaptionRequest

DEFAULT_CAPTION = "a photo of {trigger}, a {class_word}"


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
    """A model captioner takes a GPU slot where there is a GPU; without one it runs on the CPU pool (the
    template captioner is instant CPU work)."""
    from isengard.device import list_gpus

    return params.get("captioner") != "template" and bool(list_gpus())


def default_captioner(registry) -> str:
    """Florence-2 where its weights are here already (a folder, or downloaded once), else the template."""
    try:
        florence = registry.get("captioning", "florence2")
    except KeyError:
        return "template"
    return "florence2" if florence.availability().ok and florence.weights_present() else "template"


class CaptionsMixin:
    """Part of CharacterService."""

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
            raise InputError("A caption can't be empty; describe the photo in a few words.", field="caption")
        if len(caption) > 1000:
            raise InputError("That caption is very long; keep it under 1000 characters.", field="caption")
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
