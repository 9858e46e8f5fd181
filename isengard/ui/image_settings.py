"""Settings that travel: a picture's settings back into the Image Gen form (Reuse from the gallery, or a
PNG made here, in A1111 or Forge), and a LoRA file added from elsewhere."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from isengard.errors import InputError
from isengard.generation.metadata import settings_from_png
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints
from isengard.words import article
from plugins.families import FAMILY_LABELS
from plugins.image.interface import SCHEDULERS


def wire(ctx, ui, form_outputs: list, character_choices, all_lora_choices) -> None:
    (
        base, prompt, negative, steps, guidance, seed, width, height, scheduler, count, character, lora,
        strength, extras, pics, load_png, upload_lora,
    ) = ui.parts(
        "base prompt negative steps guidance seed width height scheduler count character lora strength "
        "extras pics load_png upload_lora"
    )  # fmt: skip
    png_hints = FieldHints({"png": ui.load_png_hint}, default="png")
    lora_file_hints = FieldHints({"file": ui.upload_lora_hint}, default="file")
    reuse_hints = pics.hints

    def fill(values: dict) -> dict:
        """Form updates from saved settings (history or a PNG): only what the settings say."""
        out: dict = {}
        model_id = values.get("base_model") or values.get("model")
        if model_id and model_id in ctx.catalogue.ids():
            out[base] = model_id
        for key, component in (
            ("prompt", prompt),
            ("negative_prompt", negative),
            ("steps", steps),
            ("guidance", guidance),
            ("seed", seed),
            ("width", width),
            ("height", height),
        ):
            if values.get(key) is not None:
                out[component] = values[key]
        if values.get("scheduler") in SCHEDULERS:
            out[scheduler] = values["scheduler"]
        out[count] = int(values.get("count") or 1)
        out[character] = gr.update(choices=character_choices(), value=values.get("character_id") or 0)
        found = []
        for entry in values.get("loras", []):
            path = entry.get("path")
            if not path or not Path(path).exists():
                match = next(
                    (
                        r
                        for r in ctx.loras.all(kinds=("final", "imported", "checkpoint"))
                        if r.name == entry.get("name")
                    ),
                    None,
                )
                path = str(match.path) if match else None
            if path:
                found.append((path, float(entry.get("strength", 1.0))))
        missing = len(values.get("loras", [])) - len(found)
        if missing:
            gr.Warning(
                f"{missing} LoRA{'s' if missing != 1 else ''} from these settings "
                f"{'are' if missing != 1 else 'is'} not in your collection."
            )
        choices = all_lora_choices()
        slots = [(lora, strength), *extras]
        for index, (lora_box, strength_box) in enumerate(slots):
            path, weight = found[index] if index < len(found) else ("", None)
            out[lora_box] = gr.update(choices=choices, value=path)
            if weight is not None:
                out[strength_box] = weight
        return out

    @ui_action("image.reuse", hints=reuse_hints)
    def reuse_settings(path):
        if not path:
            raise InputError("Click a picture first.")
        picture = next((p for p in ctx.gallery.pictures(limit=2000) if str(p.path) == path), None)
        if picture is None:
            raise InputError("That picture is not in the gallery any more.")
        params = ctx.generation.get(picture.generation_id)["params"]
        values = fill(params)
        if picture.seed is not None:
            values[seed] = picture.seed  # this very picture, even when it was the 3rd of 4
        shown = (params.get("prompt") or "")[:40]
        many = int(params.get("count") or 1)
        gr.Info(
            f"Loaded the settings of “{shown}” (seed {picture.seed}; it was made as {many} "
            f"picture{'s' if many != 1 else ''}). Press Generate."
        )
        return values

    @ui_action("image.load_png", hints=png_hints)
    def load_settings(file):
        if not file:
            return {}
        path = file if isinstance(file, str) else file.name
        values = settings_from_png(Path(path))
        if not values:
            raise InputError(
                "This picture carries no settings (it was not made by Isengard, A1111 or Forge).", field="png"
            )
        made_by = "Isengard" if values.get("source") == "isengard" else "A1111/Forge"
        gr.Info(f"Settings loaded from {article(made_by)} {made_by} picture.")
        return fill(values) | {load_png: None}

    @ui_action("image.import_lora", hints=lora_file_hints)
    def import_lora(file):
        if not file:
            return {}
        path = file if isinstance(file, str) else file.name
        record = ctx.loras.import_file(Path(path), Path(getattr(file, "orig_name", "") or path).stem)
        family = FAMILY_LABELS.get(record.family, record.family)
        gr.Info(f"Added {record.name} ({family}) to your LoRAs.")
        choices = all_lora_choices()
        return {
            lora: gr.update(choices=choices, value=str(record.path)),
            upload_lora: None,
            **{box: gr.update(choices=choices) for box, _ in extras},
        }

    private = {"api_visibility": "private"}
    pics.reuse.click(
        reuse_settings, inputs=[pics.picked], outputs=[*form_outputs, *reuse_hints.components], **private
    )
    load_png.upload(
        load_settings, inputs=[load_png], outputs=[*form_outputs, load_png, *png_hints.components], **private
    )
    upload_lora.upload(
        import_lora,
        inputs=[upload_lora],
        outputs=[lora, upload_lora, *[b for b, _ in extras], *lora_file_hints.components],
        **private,
    )
