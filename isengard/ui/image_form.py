"""The Image Gen tab's layout: the person and prompt, the style packs, the results beside them, the
picture settings below, the gallery of pictures. Its components are handed to the tab's handlers."""

from __future__ import annotations

import gradio as gr

from isengard.generation.sizes import ASPECTS
from isengard.generation.styles import PACK_COUNT, load_packs
from isengard.ui import picture_gallery
from isengard.ui.hints import hint_line
from isengard.ui.model_views import (
    guidance_help,
    licence_html,
    model_choice,
    shows_negative_prompt,
    steps_help,
)
from isengard.ui.plugin_status import status_html as plugin_status_html
from isengard.ui.shared import Parts
from plugins.image.interface import SCHEDULERS

EXTRA_LORAS = 2
OWN_PROMPT = "(my own prompt)"
SAMPLER_WORDS = {
    "default": "The model's own (best for most)",
    "euler": "Euler — simple and steady",
    "euler_a": "Euler ancestral — more variety",
    "dpmpp_2m": "DPM++ 2M — sharp in fewer steps",
    "dpmpp_2m_karras": "DPM++ 2M Karras — smooth detail",
    "ddim": "DDIM — classic, repeatable",
}
NONE = "(none)"


def backend_html(ctx, name: str) -> str:
    return plugin_status_html(ctx, "image", name, "gen-backend-reason")


def build(ctx, shared) -> Parts:
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
                    picked = gr.State(None)  # [person, when] the last choice of a person was answered
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
                prompt_hint = hint_line("gen-prompt-hint")
                with gr.Row(equal_height=True):
                    style = gr.Dropdown(
                        label="Or pick a style",
                        choices=[(OWN_PROMPT, "")] + [(p.label, p.id) for p in load_packs()],
                        value="",
                        elem_id="gen-style",
                        info="A ready-made picture idea with your person in it.",
                        scale=3,
                        min_width=160,
                    )
                    style_go = gr.Button(
                        f"Make {PACK_COUNT} in this style", elem_id="gen-style-go", scale=2, min_width=120
                    )
                negative = gr.Textbox(
                    label="Negative prompt",
                    lines=1,
                    elem_id="gen-negative",
                    info="Things to avoid.",
                    visible=shows_negative_prompt(default_model),
                )
                with gr.Row(elem_classes=["isg-keep-row"]):
                    go = gr.Button("Generate", variant="primary", elem_id="gen-go", scale=3, min_width=110)
                    stop = gr.Button("Stop", variant="stop", elem_id="gen-cancel", scale=1, min_width=70)
                go_hint = hint_line("gen-go-hint")
                go_first = gr.Button(
                    "Pause the training and make these first", visible=False, elem_id="gen-go-first"
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
        with gr.Group(elem_id="gen-settings"):
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
                count = gr.Number(  # no range given to Gradio: it would cut 500 to 8 without a word
                    value=1,
                    precision=0,
                    label="Images",
                    elem_id="gen-count",
                    info="How many pictures, 1 to 8 (each with the next seed).",
                )
                seed = gr.Number(
                    value=-1,
                    precision=0,
                    label="Seed",
                    elem_id="gen-seed",
                    info="-1 picks a random seed. The same seed and settings repeat an image.",
                )
            settings_hint = hint_line("gen-settings-hint")
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
                advanced_hint = hint_line("gen-advanced-hint")
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
                        choices=[(SAMPLER_WORDS.get(name, name), name) for name in SCHEDULERS],
                        value="default",
                        elem_id="gen-scheduler",
                        info="How the picture is worked out from noise. The model's own suits most pictures.",
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
                upload_lora_hint = hint_line("gen-upload-lora-hint")
            load_png = gr.File(
                label="Load settings from an image (a PNG made here, in A1111 or Forge)",
                file_types=[".png"],
                elem_id="gen-load-png",
                height=140,
            )
            load_png_hint = hint_line("gen-load-png-hint")
        pics = picture_gallery.build(ctx)

    return Parts(
        service=service,
        models=models,
        default_model=default_model,
        backends=backends,
        tab=tab,
        job_id=job_id,
        follow_key=follow_key,
        character=character,
        picked=picked,
        lora=lora,
        strength=strength,
        prompt=prompt,
        prompt_hint=prompt_hint,
        style=style,
        style_go=style_go,
        negative=negative,
        go=go,
        stop=stop,
        go_hint=go_hint,
        go_first=go_first,
        status=status,
        preview=preview,
        gallery=gallery,
        seeds=seeds,
        base=base,
        aspect=aspect,
        licence=licence,
        count=count,
        seed=seed,
        settings_hint=settings_hint,
        steps=steps,
        guidance=guidance,
        advanced_hint=advanced_hint,
        width=width,
        height=height,
        scheduler=scheduler,
        backend=backend,
        backend_state=backend_state,
        extras=extras,
        upload_lora=upload_lora,
        upload_lora_hint=upload_lora_hint,
        load_png=load_png,
        load_png_hint=load_png_hint,
        pics=pics,
    )
