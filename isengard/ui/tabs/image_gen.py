"""The Image Gen tab: a character (or any LoRA) and a prompt in, pictures out — with live preview, cancel,
a gallery, the history of every generation, "reuse settings" and "load settings from an image"."""

from __future__ import annotations

import re
import time
from pathlib import Path

import gradio as gr

from isengard.errors import InputError, IsengardError
from isengard.generation.service import GenerateForm
from isengard.generation.sizes import aspect_size, family_factor
from isengard.generation.styles import PACK_COUNT, pack
from isengard.generation.styles import render as render_style
from isengard.jobs import JobRecord
from isengard.ui import image_form, image_settings, picture_gallery
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints
from isengard.ui.image_form import NONE, backend_html
from isengard.ui.image_views import (
    gallery_items,
    preview_update,
    status_html,
    waiting_for,
)
from isengard.ui.model_views import (
    guidance_help,
    licence_html,
    shows_negative_prompt,
    steps_help,
)
from isengard.ui.shared import Arrival, remembered
from plugins.image.interface import ImageBackend

DUPLICATE_WINDOW_S = 2.0  # a choice reported twice arrives within milliseconds; a person re-choosing, not


def model_choices(ctx, backend_name: str) -> list[tuple[str, str]]:
    """The catalogue's models, plus what the backend offers itself (a ComfyUI server's files)."""
    plugin = ctx.registry.get("image", backend_name)
    offered = plugin.base_models() if plugin.availability().ok else None
    if offered is not None:
        return [(ref.label, ref.id) for ref in offered]
    return [(m.label, m.id) for m in ctx.catalogue.all()]


def _family(ctx, model_id: str | None) -> str | None:
    return ctx.catalogue.get(model_id).family if model_id in ctx.catalogue.ids() else None


def render(ctx, shared) -> list:
    ui = image_form.build(ctx, shared)
    # fmt: off
    (
        service, tab, job_id, follow_key, character, lora, strength,
        prompt, prompt_hint, style, style_go, negative, go, stop, go_hint, go_first, status, preview,
        gallery, seeds, base, aspect, licence, count, seed, settings_hint, steps, guidance,
        advanced_hint, width, height, scheduler, backend, backend_state, extras,
        pics,
    ) = ui.parts(
        "service tab job_id follow_key character lora strength "
        "prompt prompt_hint style style_go negative go stop go_hint go_first status preview "
        "gallery seeds base aspect licence count seed settings_hint steps guidance advanced_hint "
        "width height scheduler backend backend_state extras "
        "pics "
    )
    # fmt: on
    picked = ui.picked
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
        choices = [(NONE, "")] + [(ctx.library.label(r), str(r.path)) for r in records]
        if not char_id:
            return choices, ""
        chosen, _ = ctx.loras.preferred_for_character(int(char_id))
        return choices, str(chosen.path) if chosen else ""

    def all_lora_choices() -> list:
        return [(NONE, "")] + [
            (ctx.library.label(r), str(r.path))
            for r in ctx.loras.all(kinds=("final", "imported", "checkpoint"))
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
        blocker = waiting_for(ctx, job)
        return {
            status: status_html(ctx, job, blocker),
            preview: preview_update(job),
            go_first: gr.update(visible=bool(blocker and blocker.kind == "train")),
        }

    def arrive(char_id, **_):
        """Someone is sent here with a character (a finished training's "Make pictures of Ada")."""
        choices = character_choices()
        ids = [value for _, value in choices]
        chosen = char_id if char_id in ids else 0
        if chosen and not ctx.loras.for_character(int(chosen)):
            chosen = 0  # no likeness trained yet: pictures without a person, until there is one
        out = {character: gr.update(choices=choices, value=chosen)}
        if chosen:
            out |= choose_character(chosen, "", "")
            path = out[lora]["value"] if isinstance(out.get(lora), dict) else None
            record = ctx.loras.by_path(Path(path)) if path else None
            if record and record.base_model in ctx.catalogue.ids():
                out[base] = record.base_model
        return out

    shared.arrivals["image"] = Arrival([character, lora, prompt, base], arrive)
    go_hints = FieldHints(
        {
            "prompt": prompt_hint,
            "count": settings_hint,
            "seed": settings_hint,
            "steps": advanced_hint,
            "guidance": advanced_hint,
            "go": go_hint,
        },
        default="go",
    )

    @ui_action("image.pick_character")
    def pick_character(char_id, current_prompt, current_base, where, last):
        # the list reports one choice twice; answered twice, the second answer (made from the prompt as it
        # was) can land after the person began typing and replace it. `last` is kept on the server, read
        # when this runs: the same person answered a moment ago is that echo
        if last and last[0] == char_id and time.time() - last[1] < DUPLICATE_WINDOW_S:
            return gr.skip()
        place = dict(where or {}) | {"character": int(char_id) if char_id else None}
        answer = choose_character(char_id, current_prompt, current_base)
        return answer | {shared.where: place, picked: [char_id, time.time()]}

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

    def styled(style_id, char_id, model_id, backend_name) -> dict:
        """The form values a style pack sets for this person and model."""
        chosen = pack(style_id)
        model = service.model_for(service.backend(backend_name), model_id)
        person = ctx.characters.get(int(char_id)) if char_id else None
        text = render_style(
            chosen,
            model.family,
            person.trigger_word if person else None,
            person.class_word if person else None,
        )
        return {prompt: text.prompt, negative: text.negative, aspect: text.shape}

    @ui_action("image.choose_style", hints=go_hints)
    def choose_style(style_id, char_id, model_id, backend_name):
        if not style_id:
            return {}
        return styled(style_id, char_id, model_id, backend_name)

    @ui_action("image.make_in_style", hints=go_hints)
    def make_in_style(data):
        if not data[style]:
            raise InputError("Pick a style first (or write your own prompt and press Generate).", field="go")
        values = styled(data[style], data[character], data[base], data[backend])
        data = dict(data) | values | {count: PACK_COUNT}
        return start(data) | values | {count: PACK_COUNT}

    @ui_action("image.generate", hints=go_hints)
    def start(data):
        new_id, prepared = service.submit(_form(data))
        for note in prepared.notes:
            gr.Info(note)
        return {
            job_id: new_id,
            follow_key: f"{new_id}@{time.time()}",
            prompt: prepared.form.prompt,
            gallery: None,  # the previous pictures go: what forms next is the new ones
            seeds: "",
            status: "",
        }

    @ui_action("image.follow")
    def follow(key, person_id=None, only_favourites=False):
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
            images = gallery_items(ctx, job.result["images"], job.params.get("form", {}).get("character_id"))
            seed_text = "Seeds: " + ", ".join(str(i["seed"]) for i in job.result["images"])
            yield view(job) | {gallery: images, seeds: seed_text} | pics.refresh(person_id, only_favourites)
        else:
            yield view(job)

    @ui_action("image.cancel")
    def cancel(current):
        if current:
            ctx.runner.cancel(current)

    @ui_action("image.go_first", hints=go_hints)
    def go_before_training(current):
        job = ctx.runner.get(current) if current else None
        blocker = waiting_for(ctx, job) if job else None
        if blocker is None or blocker.kind != "train":
            raise InputError("Nothing is in the way any more: your pictures are being made.")
        if not ctx.runner.step_aside(blocker.id, job.id):
            raise InputError("That training cannot pause right now.")
        gr.Info("The training pauses for your pictures and carries on by itself afterwards.")
        return {go_first: gr.update(visible=False)}

    def start_person(where) -> int | None:
        """Image Gen starts on the person the browser remembers (or the first), when they have a LoRA."""
        with_lora = [c.id for c in ctx.characters.list() if ctx.loras.for_character(c.id)]
        return remembered(where, with_lora)

    @ui_action("image.page_load")
    def on_load(where):
        active = [j for j in ctx.runner.list(limit=20, kinds=("generate",)) if not j.terminal]
        key = f"{active[0].id}@{time.time()}" if active else ""
        choices = all_lora_choices()
        start_on = start_person(where)
        out = {
            character: gr.update(choices=character_choices()),
            lora: gr.update(choices=choices),
            **pics.refresh(picture_gallery.EVERYONE, False),
            job_id: active[0].id if active else gr.update(),
            follow_key: key or gr.update(),
            **{box: gr.update(choices=choices) for box, _ in extras},
        }
        if start_on:
            out |= arrive(start_on)
        return out

    @ui_action("image.tab_opened")
    def refresh(where, selected, current_lora):
        choices = character_choices()
        ids = [c[1] for c in choices]
        wanted = (where or {}).get("character")
        if wanted in ids and wanted != selected and ctx.loras.for_character(int(wanted)):
            return arrive(wanted)
        if not selected and start_person(where):  # opened before the page's own start finished
            return arrive(start_person(where))  # the same start, not "(none)"
        selected = selected if selected in ids else 0
        loras, _ = lora_choices(selected or None)  # names as they are now (a LoRA renamed in Training)
        kept = current_lora if current_lora in [value for _, value in loras] else ""
        return {
            character: gr.update(choices=choices, value=selected),
            lora: gr.update(choices=loras, value=kept),
        }

    private = {"api_visibility": "private"}
    follow_outputs = [status, preview, gallery, seeds, go_first, *pics.outputs]
    base.change(
        model_defaults, inputs=[base, backend], outputs=[steps, guidance, negative, licence], **private
    )
    backend.input(choose_backend, inputs=[backend, base], outputs=[backend_state, base], **private)
    character.input(
        pick_character,
        inputs=[character, prompt, base, shared.where, picked],
        outputs=[lora, prompt, base, shared.where, picked],
        **private,
    )
    lora.input(choose_lora, inputs=[lora, base], outputs=[base], **private)
    follow_event = follow_key.change(
        follow,
        inputs=[follow_key, pics.person, pics.favourites],
        outputs=follow_outputs,
        concurrency_limit=None,
        show_progress="hidden",
        **private,
    )
    go.click(
        start,
        inputs=inputs,
        outputs=[job_id, follow_key, prompt, gallery, seeds, status, *go_hints.components],
        cancels=[follow_event],
        **private,
    )
    stop.click(cancel, inputs=[job_id], **private)
    style.input(
        choose_style,
        inputs=[style, character, base, backend],
        outputs=[prompt, negative, aspect, *go_hints.components],
        **private,
    )
    style_go.click(
        make_in_style,
        inputs={*inputs, style},
        outputs=[
            job_id,
            follow_key,
            prompt,
            negative,
            aspect,
            count,
            gallery,
            seeds,
            status,
            *go_hints.components,
        ],
        cancels=[follow_event],
        **private,
    )
    go_first.click(go_before_training, inputs=[job_id], outputs=[go_first, *go_hints.components], **private)
    image_settings.wire(ctx, ui, form_outputs, character_choices, all_lora_choices)
    tab.select(
        refresh,
        inputs=[shared.where, character, lora],
        outputs=[character, lora, prompt, base],
        show_progress="hidden",
        **private,
    )

    @ui_action("image.models_refreshed", quiet=True)
    def refresh_models(backend_name):
        """Models imported meanwhile (Settings, the command line) join the list; the choice stays. A backend
        that lists its own models (a ComfyUI server's) is not asked: that is a call to the server."""
        if type(ctx.registry.get("image", backend_name)).base_models is not ImageBackend.base_models:
            return gr.skip()
        ctx.models.refresh_custom()
        return gr.update(choices=model_choices(ctx, backend_name))

    tab.select(refresh_models, inputs=[backend], outputs=[base], show_progress="hidden", **private)
    load_outputs = [
        character,
        lora,
        prompt,
        base,
        *pics.outputs,
        job_id,
        follow_key,
        *[b for b, _ in extras],
    ]
    return [(on_load, [shared.where], load_outputs)]
