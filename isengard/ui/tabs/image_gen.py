"""The Image Gen tab: a character (or any LoRA) and a prompt in, pictures out — with live preview, cancel,
a gallery, the history of every generation, "reuse settings" and "load settings from an image"."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import gradio as gr

from isengard.errors import IsengardError
from isengard.evaluation.badges import badge_text
from isengard.generation.metadata import settings_from_png
from isengard.generation.service import GenerateForm
from isengard.generation.sizes import ASPECTS, aspect_size, family_factor
from isengard.jobs import JobRecord
from isengard.ui.actions import ui_action
from isengard.ui.follow import progress_html
from isengard.ui.model_views import (
    guidance_help,
    licence_html,
    model_choice,
    shows_negative_prompt,
    steps_help,
)
from isengard.ui.plugin_status import status_html
from plugins.image.interface import SCHEDULERS

EXTRA_LORAS = 2
NONE = "(none)"


HISTORY_HEADERS = ["When", "Prompt", "Model", "LoRAs", "Seeds", "ID"]


def _history_rows(ctx):
    import pandas as pd

    rows = []
    for gen in ctx.generation.history(limit=50):
        p = gen["params"]
        loras = ", ".join(f"{lo.get('name')}:{lo.get('strength'):g}" for lo in p.get("loras", [])) or "—"
        rows.append(
            [
                time.strftime("%Y-%m-%d %H:%M", time.localtime(gen["created_at"])),
                gen["prompt"][:70],
                gen["base_model"],
                loras,
                ", ".join(str(i["seed"]) for i in gen["images"]),
                gen["id"],
            ]
        )
    return pd.DataFrame(rows, columns=HISTORY_HEADERS)


def backend_html(ctx, name: str) -> str:
    return status_html(ctx, "image", name, "gen-backend-reason")


def model_choices(ctx, backend_name: str) -> list[tuple[str, str]]:
    """The catalogue's models, plus what the backend offers itself (a ComfyUI server's files)."""
    plugin = ctx.registry.get("image", backend_name)
    offered = plugin.base_models() if plugin.availability().ok else None
    if offered is not None:
        return [(ref.label, ref.id) for ref in offered]
    return [(m.label, m.id) for m in ctx.catalogue.all()]


def _gallery_items(ctx, images: list[dict], character_id) -> list[tuple[str, str]]:
    """(picture, caption) with each picture's seed and, when made with a character, its likeness badge;
    those pictures come most-alike first."""
    name = None
    if character_id:
        try:
            name = ctx.characters.get(int(character_id)).name
        except IsengardError:
            name = None
    if name and any((i.get("likeness") or {}).get("likeness") is not None for i in images):
        images = sorted(images, key=lambda i: -((i.get("likeness") or {}).get("likeness") or -1))
    items = []
    for image in images:
        badge = badge_text(image.get("likeness"), name) if name else ""
        items.append((image["path"], f"seed {image['seed']}" + (f" · {badge}" if badge else "")))
    return items


def _family(ctx, model_id: str | None) -> str | None:
    return ctx.catalogue.get(model_id).family if model_id in ctx.catalogue.ids() else None


def _preview_update(job: JobRecord):
    """The live preview shows only while a job runs; at rest the results gallery stands alone."""
    if job.terminal:
        return gr.update(value=None, visible=False)
    path = job.progress.get("preview")
    if not path or not Path(path).exists():
        return gr.update(visible=True)
    from PIL import Image

    try:
        with Image.open(path) as image:
            return gr.update(value=image.copy(), visible=True)
    except OSError:  # removed or half-replaced between the check and the read: keep the last one
        return gr.update(visible=True)


def render(ctx) -> list:
    service = ctx.generation
    models = ctx.catalogue.all()
    default_model = ctx.catalogue.get(service.default_base)
    backends = []
    for plugin in ctx.registry.of_kind("image"):
        avail = plugin.availability()
        backends.append((plugin.label if avail.ok else f"{plugin.label} — unavailable", plugin.name))

    with gr.Tab("Image Gen", id="image", elem_id="tab-image") as tab:
        job_id = gr.Textbox(visible=False, elem_id="gen-job-id")
        follow_key = gr.Textbox(visible=False, elem_id="gen-follow-key")
        history_ids = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=340):
                with gr.Row():
                    character = gr.Dropdown(
                        label="Character",
                        choices=[(NONE, 0)],
                        value=0,
                        elem_id="gen-character",
                        info="Whose LoRA to use. Its trigger word is added to the prompt.",
                    )
                    lora = gr.Dropdown(
                        label="LoRA",
                        choices=[(NONE, "")],
                        value="",
                        elem_id="gen-lora",
                        info="The checkpoint that looks most like the character is chosen (else the newest LoRA); pick another if you like.",
                    )
                strength = gr.Slider(
                    0,
                    2,
                    value=1.0,
                    step=0.05,
                    label="LoRA strength",
                    elem_id="gen-strength",
                    info="How strongly the LoRA applies: 1 is as trained; lower if faces look overdone.",
                )
                prompt = gr.Textbox(
                    label="Prompt",
                    lines=3,
                    elem_id="gen-prompt",
                    placeholder="e.g. a portrait photo in a sunlit garden, 85mm, soft light",
                    info="Describe the picture you want. Keep the trigger word in it.",
                )
                negative = gr.Textbox(
                    label="Negative prompt",
                    lines=1,
                    elem_id="gen-negative",
                    info="Things to avoid.",
                    visible=shows_negative_prompt(default_model),
                )
                with gr.Row():
                    base = gr.Dropdown(
                        label="Base model",
                        choices=[model_choice(m) for m in models],
                        value=default_model.id,
                        elem_id="gen-base",
                        allow_custom_value=True,  # the list changes with the backend; the service checks it
                        info="Use the model family the LoRA was trained for.",
                    )
                    aspect = gr.Dropdown(
                        label="Shape",
                        choices=list(ASPECTS),
                        value="1:1 square",
                        elem_id="gen-aspect",
                        info="Picture shape at the model's best resolution.",
                    )
                licence = gr.HTML(licence_html(default_model), elem_id="gen-licence")
                with gr.Row():
                    count = gr.Slider(
                        1,
                        8,
                        value=1,
                        step=1,
                        label="Images",
                        elem_id="gen-count",
                        info="How many pictures (each with the next seed).",
                    )
                    seed = gr.Number(
                        value=-1,
                        precision=0,
                        label="Seed",
                        elem_id="gen-seed",
                        info="-1 picks a random seed. The same seed and settings repeat an image.",
                    )
                with gr.Accordion("Advanced settings", open=False, elem_id="gen-advanced"):
                    with gr.Row():
                        steps = gr.Slider(
                            1,
                            150,
                            value=default_model.default_steps,
                            step=1,
                            label="Steps",
                            elem_id="gen-steps",
                            info=steps_help(default_model),
                        )
                        guidance = gr.Slider(
                            0,
                            30,
                            value=default_model.default_guidance,
                            step=0.5,
                            label="Guidance",
                            elem_id="gen-guidance",
                            info=guidance_help(default_model.family),
                        )
                    with gr.Row():
                        width = gr.Number(
                            value=None,
                            precision=0,
                            label="Width (custom)",
                            elem_id="gen-width",
                            info="Empty or 0: use the shape above.",
                        )
                        height = gr.Number(
                            value=None,
                            precision=0,
                            label="Height (custom)",
                            elem_id="gen-height",
                            info="Empty or 0: use the shape above.",
                        )
                    with gr.Row():
                        scheduler = gr.Dropdown(
                            label="Sampler",
                            choices=list(SCHEDULERS),
                            value="default",
                            elem_id="gen-scheduler",
                            info="The denoising method; 'default' is the model's own.",
                        )
                        backend = gr.Dropdown(
                            label="Backend",
                            choices=backends,
                            value=service.default_backend,
                            elem_id="gen-backend",
                            info="Where pictures are made: built-in, ComfyUI, or placeholders.",
                        )
                    backend_state = gr.HTML(
                        backend_html(ctx, service.default_backend), elem_id="gen-backend-state"
                    )
                    gr.Markdown("**More LoRAs** — mix in styles or other LoRAs, each with its own strength.")
                    extras = []
                    for i in range(EXTRA_LORAS):
                        with gr.Row():
                            extra_lora = gr.Dropdown(
                                label=f"Extra LoRA {i + 1}",
                                choices=[(NONE, "")],
                                value="",
                                elem_id=f"gen-extra-lora-{i}",
                                scale=3,
                            )
                            extra_strength = gr.Slider(
                                0,
                                2,
                                value=0.8,
                                step=0.05,
                                label="Strength",
                                elem_id=f"gen-extra-strength-{i}",
                                scale=2,
                            )
                        extras.append((extra_lora, extra_strength))
                    upload_lora = gr.File(
                        label="Add a LoRA file (.safetensors) to your collection",
                        file_types=[".safetensors"],
                        elem_id="gen-upload-lora",
                        height=90,
                    )
                with gr.Row():
                    go = gr.Button("Generate", variant="primary", elem_id="gen-go", scale=3)
                    stop = gr.Button("Cancel", variant="stop", elem_id="gen-cancel", scale=1)
                load_png = gr.File(
                    label="Load settings from an image (a PNG made here, in A1111 or Forge)",
                    file_types=[".png"],
                    elem_id="gen-load-png",
                    height=140,
                )
            with gr.Column(scale=6):
                status = gr.HTML("", elem_id="gen-status")
                preview = gr.Image(
                    label="Live preview",
                    height=200,
                    interactive=False,
                    elem_id="gen-preview",
                    buttons=[],
                    type="pil",
                    visible=False,
                )
                gallery = gr.Gallery(
                    label="Results",
                    columns=2,
                    height=460,
                    elem_id="gen-gallery",
                    object_fit="contain",
                    buttons=["download", "fullscreen"],
                )
                seeds = gr.Markdown("", elem_id="gen-seeds")
        with gr.Accordion(
            "History — every picture you made, with its settings", open=True, elem_id="gen-history-box"
        ):
            history = gr.Dataframe(
                headers=HISTORY_HEADERS,
                interactive=False,
                wrap=True,
                elem_id="gen-history",
            )
            with gr.Row():
                reuse = gr.Button("Reuse these settings", elem_id="gen-reuse")
                picked = gr.Textbox(
                    label="Selected", interactive=False, elem_id="gen-history-picked", scale=3
                )

    extra_inputs = [c for pair in extras for c in pair]
    inputs = {
        character,
        lora,
        strength,
        prompt,
        negative,
        base,
        aspect,
        count,
        seed,
        steps,
        guidance,
        width,
        height,
        scheduler,
        backend,
        *extra_inputs,
    }
    form_outputs = [
        prompt,
        negative,
        base,
        steps,
        guidance,
        seed,
        width,
        height,
        scheduler,
        count,
        character,
        lora,
        strength,
        *extra_inputs,
    ]

    def lora_choices(char_id) -> tuple[list, str]:
        if char_id:
            records = ctx.loras.for_character(int(char_id), kinds=("final", "checkpoint"))
        else:
            records = ctx.loras.all(kinds=("final", "imported", "checkpoint"))
        choices = [(NONE, "")] + [(r.label, str(r.path)) for r in records]
        if not char_id:
            return choices, ""
        chosen, _ = ctx.loras.preferred_for_character(int(char_id))
        return choices, str(chosen.path) if chosen else ""

    def all_lora_choices() -> list:
        return [(NONE, "")] + [
            (r.label, str(r.path)) for r in ctx.loras.all(kinds=("final", "imported", "checkpoint"))
        ]

    def character_choices() -> list:
        return [(NONE, 0)] + [(c.name, c.id) for c in ctx.characters.list()]

    def _form(data) -> GenerateForm:
        model = service.model_for(service.backend(data[backend]), data[base])
        w, h = aspect_size(model.resolution, data[aspect], family_factor(model.family))
        loras = []
        if data[lora]:
            loras.append({"path": data[lora], "strength": float(data[strength])})
        for extra_lora, extra_strength in extras:
            if data[extra_lora]:
                loras.append({"path": data[extra_lora], "strength": float(data[extra_strength])})
        char_id = int(data[character]) if data[character] else None
        return GenerateForm(
            prompt=data[prompt],
            negative_prompt=data[negative] or "",
            backend=data[backend],
            base_model=data[base],
            width=int(data[width]) if data[width] else w,
            height=int(data[height]) if data[height] else h,
            steps=int(data[steps]),
            guidance=float(data[guidance]),
            scheduler=data[scheduler],
            seed=int(data[seed]) if data[seed] is not None else -1,
            count=int(data[count]),
            loras=loras,
            character_id=char_id,
        )

    def view(job: JobRecord):
        extra = ""
        if job.status == "succeeded" and job.result:
            extra = "".join(f"<br>ℹ {html.escape(n)}" for n in job.result.get("notes", []))
        return {status: progress_html(job, extra=extra), preview: _preview_update(job)}

    @ui_action("image.choose_character")
    def choose_character(char_id, current_prompt, current_base):
        choices, newest = lora_choices(char_id)
        updates = {lora: gr.update(choices=choices, value=newest)}
        if char_id:
            character_obj = ctx.characters.get(int(char_id))
            text = current_prompt or ""
            if not re.search(rf"\b{re.escape(character_obj.trigger_word)}\b", text):
                text = (
                    f"{character_obj.trigger_word}, {text}"
                    if text.strip()
                    else (f"a photo of {character_obj.trigger_word}, a {character_obj.class_word}")
                )
            updates[prompt] = text
            _, why = ctx.loras.preferred_for_character(int(char_id))
            if why:
                gr.Info(f"Chose the recommended checkpoint: {why}")
            record = ctx.loras.by_path(Path(newest)) if newest else None
            if record and _family(ctx, current_base) not in (None, record.family):
                same = next((m for m in ctx.catalogue.all() if m.id == record.base_model), None)
                if same:
                    updates[base] = same.id
        return updates

    @ui_action("image.choose_lora")
    def choose_lora(path, current_base):
        if not path:
            return gr.update()
        record = ctx.loras.by_path(Path(path))
        if record and _family(ctx, current_base) not in (None, record.family):
            match = next((m for m in ctx.catalogue.all() if m.id == record.base_model), None)
            if match:
                gr.Info(f"Switched the base model to {match.label}: this LoRA was trained for it.")
                return gr.update(value=match.id)
        return gr.update()

    @ui_action("image.choose_backend")
    def choose_backend(name, current_base):
        choices = model_choices(ctx, name)
        ids = [value for _, value in choices]
        if current_base in ids:
            chosen = current_base
        else:
            try:  # the same choice a script gets: one of the server's own models that it can run
                chosen = service.default_base_for(service.backend(name))
            except IsengardError as exc:
                gr.Warning(str(exc))
                chosen = None
        return backend_html(ctx, name), gr.update(choices=choices, value=chosen)

    @ui_action("image.model_defaults")
    def model_defaults(model_id, backend_name):
        if not model_id:
            return gr.update(), gr.update(), gr.update(), gr.update()
        model = service.model_for(service.backend(backend_name), model_id)
        return (
            gr.update(value=model.default_steps, info=steps_help(model)),
            gr.update(value=model.default_guidance, info=guidance_help(model.family)),
            gr.update(visible=shows_negative_prompt(model)),
            licence_html(model),
        )

    @ui_action("image.generate")
    def start(data):
        new_id, prepared = service.submit(_form(data))
        for note in prepared.notes:
            gr.Info(note)
        return new_id, f"{new_id}@{time.time()}", prepared.form.prompt

    @ui_action("image.follow")
    def follow(key):
        current = (key or "").rsplit("@", 1)[0]
        if not current:
            yield {}  # nothing to follow: leave every output as it is
            return
        last = 0.0
        job = None
        for job, _ in ctx.runner.follow(current, poll=0.2):
            if job.terminal or time.monotonic() - last >= 0.3:
                last = time.monotonic()
                yield view(job)
        if job is None:
            yield {}
            return
        if job.status == "succeeded" and job.result:
            images = _gallery_items(ctx, job.result["images"], job.params.get("form", {}).get("character_id"))
            seed_text = "Seeds: " + ", ".join(str(i["seed"]) for i in job.result["images"])
            yield view(job) | {
                gallery: images,
                seeds: seed_text,
                history: _history_rows(ctx),
            }
        else:
            yield view(job)

    @ui_action("image.cancel")
    def cancel(current):
        if current:
            ctx.runner.cancel(current)

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
        out[count] = 1
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
            gr.Warning(f"{missing} LoRA(s) from these settings are not in your collection.")
        choices = all_lora_choices()
        slots = [(lora, strength), *extras]
        for index, (lora_box, strength_box) in enumerate(slots):
            path, weight = found[index] if index < len(found) else ("", None)
            out[lora_box] = gr.update(choices=choices, value=path)
            if weight is not None:
                out[strength_box] = weight
        return out

    @ui_action("image.reuse")
    def reuse_settings(ids, selected):
        if not selected:
            raise gr.Error("Click a row of the history first.")
        return fill(ctx.generation.get(selected)["params"])

    @ui_action("image.history_select")
    def select_history(rows, evt: gr.SelectData):
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if row is None or rows is None or row >= len(rows):
            return gr.update(), gr.update()
        gen_id = rows.iloc[row, -1] if hasattr(rows, "iloc") else rows[row][-1]
        gen = ctx.generation.get(gen_id)
        existing = [i for i in gen["images"] if Path(i["path"]).exists()]
        return gen_id, _gallery_items(ctx, existing, gen.get("character_id"))

    @ui_action("image.load_png")
    def load_settings(file):
        if not file:
            return {}
        path = file if isinstance(file, str) else file.name
        values = settings_from_png(Path(path))
        if not values:
            raise gr.Error(
                "This picture carries no generation settings (it was not made by Isengard, A1111 or Forge)."
            )
        gr.Info(
            f"Settings loaded from a {'Isengard' if values.get('source') == 'isengard' else 'A1111/Forge'} image."
        )
        return fill(values) | {load_png: None}

    @ui_action("image.import_lora")
    def import_lora(file):
        if not file:
            return {}
        path = file if isinstance(file, str) else file.name
        record = ctx.loras.import_file(Path(path), Path(getattr(file, "orig_name", "") or path).stem)
        gr.Info(f"Added {record.name} ({record.family}) to your LoRAs.")
        choices = all_lora_choices()
        return {
            lora: gr.update(choices=choices, value=str(record.path)),
            upload_lora: None,
            **{box: gr.update(choices=choices) for box, _ in extras},
        }

    @ui_action("image.page_load")
    def on_load():
        active = [j for j in ctx.runner.list(limit=20, kinds=("generate",)) if not j.terminal]
        key = f"{active[0].id}@{time.time()}" if active else ""
        choices = all_lora_choices()
        return {
            character: gr.update(choices=character_choices()),
            lora: gr.update(choices=choices),
            history: _history_rows(ctx),
            job_id: active[0].id if active else gr.update(),
            follow_key: key or gr.update(),
            **{box: gr.update(choices=choices) for box, _ in extras},
        }

    @ui_action("image.tab_opened")
    def refresh(selected):
        ids = [c[1] for c in character_choices()]
        return gr.update(choices=character_choices(), value=selected if selected in ids else 0)

    private = {"api_visibility": "private"}
    follow_outputs = [status, preview, gallery, seeds, history]
    base.change(
        model_defaults, inputs=[base, backend], outputs=[steps, guidance, negative, licence], **private
    )
    backend.input(choose_backend, inputs=[backend, base], outputs=[backend_state, base], **private)
    character.input(
        choose_character, inputs=[character, prompt, base], outputs=[lora, prompt, base], **private
    )
    lora.input(choose_lora, inputs=[lora, base], outputs=[base], **private)
    follow_event = follow_key.change(
        follow,
        inputs=[follow_key],
        outputs=follow_outputs,
        concurrency_limit=None,
        show_progress="hidden",
        **private,
    )
    go.click(start, inputs=inputs, outputs=[job_id, follow_key, prompt], cancels=[follow_event], **private)
    stop.click(cancel, inputs=[job_id], **private)
    history.select(select_history, inputs=[history], outputs=[picked, gallery], **private)
    reuse.click(reuse_settings, inputs=[history_ids, picked], outputs=form_outputs, **private)
    load_png.upload(load_settings, inputs=[load_png], outputs=[*form_outputs, load_png], **private)
    upload_lora.upload(
        import_lora, inputs=[upload_lora], outputs=[lora, upload_lora, *[b for b, _ in extras]], **private
    )
    tab.select(refresh, inputs=[character], outputs=[character], show_progress="hidden", **private)
    load_outputs = [character, lora, history, job_id, follow_key, *[b for b, _ in extras]]
    return [(on_load, [], load_outputs)]
