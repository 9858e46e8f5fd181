"""Settings → Your own base models: bring in a model the person already has — ComfyUI's files for Z-Image,
FLUX.2 or Qwen-Image (the diffusion model, with its text encoder and VAE if they like), or an SDXL / SD 1.5
checkpoint — from the drop-in folder or ComfyUI's models folder. The conversion runs as a job whose
progress shows here; the model then appears in the Base model lists of Training and Image Gen."""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from isengard.errors import InputError
from isengard.models import model_files
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints, hint_line
from isengard.ui.job_views import progress_html

FAMILY_OWN = "The family's own (downloaded when needed)"
NO_FILES = (
    "No model files found yet. Put the file in the drop-in folder (see Details below), or tell Isengard where "
    "ComfyUI keeps its models, then press Look again."
)


def _choices(files, role: str) -> list[tuple[str, str]]:
    return [(f.label, str(f.path)) for f in files if f.role == role]


def _part(label: str, elem_id: str) -> gr.Dropdown:
    """A text encoder or VAE to go with a diffusion model: the family's own unless one is chosen."""
    return gr.Dropdown(
        label=label,
        choices=[(FAMILY_OWN, "")],
        value="",
        elem_id=elem_id,
        info="Optional: leave it to use the family's own.",
    )


def render(ctx) -> tuple:
    """The panel; returns its "look for files" handler and outputs (run when Settings opens)."""
    folders = model_files.import_folders(ctx.paths, ctx.settings)
    with gr.Accordion(
        "Your own base models — bring in a model from ComfyUI or a checkpoint",
        open=False,
        elem_id="isg-own-models",
    ):
        gr.Markdown(
            "Train and make pictures with a model you already have: a fine-tune from Civitai, or ComfyUI's "
            "files for Z-Image, FLUX.2 or Qwen-Image. Isengard reads what the file is and makes a copy it can "
            "use; your file stays where it is."
        )
        found = gr.HTML("", elem_id="own-model-found", visible=False)
        model = gr.Dropdown(
            label="Model file",
            choices=[],
            value=None,
            elem_id="own-model-file",
            info="A diffusion model (ComfyUI's diffusion_models folder) or an SDXL / SD 1.5 checkpoint.",
        )
        model_hint = hint_line("own-model-file-hint")
        with gr.Row(visible=False, elem_id="own-model-parts") as parts:
            text_encoder, vae = (_part("Text encoder", "own-model-te"), _part("VAE", "own-model-vae"))
        name = gr.Textbox(
            label="Name",
            placeholder="My model",
            elem_id="own-model-name",
            info="How it appears in the Base model lists.",
        )
        with gr.Row(elem_classes=["isg-keep-row"]):
            add = gr.Button(
                "Add this model", variant="primary", elem_id="own-model-add", scale=3, min_width=120
            )
            look = gr.Button("Look again", elem_id="own-model-rescan", scale=1, min_width=100)
        status = gr.HTML("", elem_id="own-model-status")
        with gr.Accordion(
            "Details: where Isengard looks for model files", open=False, elem_id="own-model-details"
        ):
            gr.Markdown(
                "\n".join(f"* `{folder}`" for folder in folders)
                + "\n\nThe first is Isengard's drop-in folder. To offer ComfyUI's files, set `COMFYUI_MODELS_DIR` "
                "to ComfyUI's `models` folder (or `COMFYUI_LORA_DIR` to its `models/loras`). On the command line: "
                "`python -m isengard models import FILE [--text-encoder FILE] [--vae FILE]`."
            )
    hints = FieldHints({"file": model_hint}, default="file")

    @ui_action("models.look", quiet=True)
    def look_again():
        files = model_files.find(folders)
        models = _choices(files, "diffusion_model") + _choices(files, "checkpoint")
        note = f'<div class="isg-muted">{html.escape(NO_FILES)}</div>'
        return {
            found: gr.update(value=note, visible=not models),
            model: gr.update(choices=models, value=None),
            text_encoder: gr.update(choices=[(FAMILY_OWN, ""), *_choices(files, "text_encoder")], value=""),
            vae: gr.update(choices=[(FAMILY_OWN, ""), *_choices(files, "vae")], value=""),
            parts: gr.update(visible=False),
        }

    @ui_action("models.pick_file", quiet=True)
    def pick_file(path):
        """The text encoder and VAE belong with a diffusion model; a checkpoint holds its own."""
        chosen = model_files.describe(Path(path)) if path else None  # that file's header, not every file's
        return gr.update(visible=bool(chosen and chosen.role == "diffusion_model"))

    @ui_action("models.import", hints=hints)
    def add_model(path, encoder, decoder, label):
        yield {status: ""}
        if not path:
            raise InputError("Pick the model file first.", field="file")
        job_id = ctx.runner.submit(
            "import_model",
            {
                "path": path,
                "text_encoder": encoder or "",
                "vae": decoder or "",
                "name": (label or "").strip(),
            },
            title="Add your own base model",
        )
        for job, _ in ctx.runner.follow(job_id, poll=0.3):
            if not job.terminal:
                yield {status: progress_html(job, what="Adding the model")}
        job = ctx.runner.get(job_id)
        if job.status != "succeeded":
            yield {status: progress_html(job, what="Adding the model")}
            return
        label = html.escape(job.result["label"])
        yield {
            status: f'<div class="isg-card" id="own-model-added" data-status="succeeded">Added <b>{label}</b>. '
            "Choose it as the Base model in Training or Image Gen.</div>",
            name: "",
        }

    private = {"api_visibility": "private"}
    look_outputs = [found, model, text_encoder, vae, parts]
    look.click(look_again, outputs=look_outputs, **private)
    model.change(pick_file, inputs=[model], outputs=[parts], show_progress="hidden", **private)
    add.click(
        add_model,
        inputs=[model, text_encoder, vae, name],
        outputs=[status, name, *hints.components],
        **private,
    )
    return look_again, look_outputs
