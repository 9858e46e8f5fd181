"""API endpoints for the rest of the loop — characters, photos, checks, captions, training, LoRAs — so a
script drives the warm studio end to end through `gradio_client`, as a person does through the tabs.

Photos arrive as gradio_client uploads (`handle_file(path)`): the client sends the file to the studio's
upload folder and passes its FileData. Only files inside that folder are read — a path anywhere else on
the server is refused, so an API caller cannot make the studio import its own files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from isengard.errors import InputError
from isengard.training.presets import json_typed
from isengard.ui.actions import ui_action

NOT_UPLOADED = "it was not uploaded through the API (send it with gradio_client's handle_file)"


def uploaded_file(item: Any) -> tuple[Path | None, str, str | None]:
    """(the uploaded file, the name to show, why it cannot be used) for one FileData-like value."""
    if isinstance(item, dict):
        path, name = item.get("path"), item.get("orig_name")
    else:
        path, name = item, None
    if not isinstance(path, str) or not path:
        return None, str(name or "a file"), "it is not a file"
    name = name or Path(path).name
    root = Path(get_upload_folder()).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None, name, NOT_UPLOADED
    return resolved, name, None


def register_loop(ctx, plain_json) -> None:
    chars, training = ctx.characters, ctx.training

    @ui_action("api.characters", quiet=True, raises=True)
    def characters() -> list[dict[str, Any]]:
        """Every character with its photo count and trigger word."""
        return plain_json([c.to_dict() for c in chars.list()])

    @ui_action("api.create_character", raises=True)
    def create_character(name: str, trigger_word: str = "", class_word: str = "person") -> dict[str, Any]:
        """Create a character (the trigger word is suggested when empty)."""
        return plain_json(chars.create(name, trigger_word or None, class_word or "person").to_dict())

    @ui_action("api.add_photos", raises=True)
    def add_photos(character: str, photos: list[Any]) -> dict[str, Any]:
        """Add photos (gradio_client `handle_file(path)` each); every file gets a line: added or why not."""
        if not isinstance(photos, list) or not photos:
            raise InputError("Send at least one photo.")
        files, refused = [], []
        for item in photos:
            path, name, reason = uploaded_file(item)
            if reason:
                refused.append((name, reason))
            else:
                files.append((path, name))
        result = chars.add_photos(character, files) if files else None
        rejected = refused + (result.rejected if result else [])
        added = [p.to_dict() for p in result.added] if result else []
        return plain_json(
            {
                "added": added,
                "duplicates": result.duplicates if result else [],
                "rejected": [{"name": n, "reason": r} for n, r in rejected],
                "summary": f"{len(added)} photo(s) added, {len(rejected)} not added.",
            }
        )

    @ui_action("api.check_photos", raises=True)
    def check_photos(character: str, only_new: bool = False) -> dict[str, Any]:
        """Queue the photo checks (faces, sharpness, duplicates); follow the job with /job."""
        return {"job_id": chars.submit_checks(character, only_new=only_new)}

    @ui_action("api.photo_report", raises=True)
    def photo_report(character: str) -> dict[str, Any]:
        """The character's photos with their badges and the readiness summary."""
        found = chars.get(character)
        ready, per_photo = chars.report(found.id)
        photos = [
            {
                **photo.to_dict(),
                "badge": per_photo[photo.id].short_badge(),
                "flags": [f.label for f in per_photo[photo.id].flags],
            }
            for photo in chars.photos(found.id)
            if photo.id in per_photo
        ]
        return plain_json({"character": found.to_dict(), "readiness": ready.to_dict(), "photos": photos})

    @ui_action("api.caption_photos", raises=True)
    def caption_photos(
        character: str, captioner: str = "template", template: str = "", keep_edited: bool = True
    ) -> dict[str, Any]:
        """Queue captions for every photo (edited captions are kept unless keep_edited is false)."""
        job_id = chars.submit_captions(
            character, captioner=captioner or "template", template=template or None, keep_edited=keep_edited
        )
        return {"job_id": job_id}

    @ui_action("api.train", raises=True)
    def train(
        character: str,
        base_model: str = "",
        backend: str = "",
        preset: str = "",
        settings: dict[str, Any] | None = None,
        sample_prompts: list[str] | None = None,
    ) -> dict[str, Any]:
        """Queue a LoRA training. `settings` overrides the preset: steps, rank, learning_rate, resolution,
        save_every, sample_every, train_conv, seed, … (the Training tab's fields). `sample_prompts` replace
        the five standard framings the likeness is measured on (each must contain the trigger word)."""
        if settings is not None and not isinstance(settings, dict):
            raise InputError('settings must be an object of training settings, e.g. {"steps": 1500}.')
        json_typed(settings or {})
        model = base_model or ctx.generation.default_base
        chosen = preset or training.recommend(model)[0].id
        job_id = training.submit(
            character,
            base_model=model,
            backend=backend or None,
            preset=chosen,
            overrides=settings or {},
            sample_prompts=sample_prompts if isinstance(sample_prompts, list) else None,
        )
        return {"job_id": job_id, "base_model": model, "preset": chosen}

    @ui_action("api.loras", quiet=True, raises=True)
    def loras(character: str) -> list[dict[str, Any]]:
        """A character's finished LoRAs, newest first (checkpoints are left out)."""
        found = chars.get(character)
        return plain_json([r.to_dict() for r in ctx.loras.for_character(found.id, kinds=("final",))])

    gr.api(characters, api_name="characters", concurrency_limit=None)
    gr.api(create_character, api_name="create_character")
    gr.api(add_photos, api_name="add_photos")
    gr.api(check_photos, api_name="check_photos")
    gr.api(photo_report, api_name="photo_report", concurrency_limit=None)
    gr.api(caption_photos, api_name="caption_photos")
    gr.api(train, api_name="train")
    gr.api(loras, api_name="loras", concurrency_limit=None)
