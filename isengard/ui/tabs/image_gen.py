"""The Image Gen tab: prompt → images, with live progress, cancel, gallery and history."""

from __future__ import annotations

import html
import time

import gradio as gr

from isengard.generation.service import GenerateForm
from isengard.generation.sizes import ASPECTS, aspect_size, family_factor
from isengard.jobs import JobRecord
from isengard.ui.actions import ui_action
from isengard.ui.follow import follow, progress_html
from plugins.image.interface import SCHEDULERS


def _history_rows(ctx) -> list[list[str]]:
    rows = []
    for gen in ctx.generation.history(limit=30):
        p = gen["params"]
        rows.append(
            [
                time.strftime("%Y-%m-%d %H:%M", time.localtime(gen["created_at"])),
                gen["prompt"][:80],
                gen["base_model"],
                ", ".join(str(i["seed"]) for i in gen["images"]),
                f"{p.get('width')}×{p.get('height')} · {p.get('steps')} steps",
                gen["id"],
            ]
        )
    return rows


def render(ctx) -> None:
    service = ctx.generation
    models = ctx.catalogue.all()
    default_model = ctx.catalogue.get(service.default_base)
    backends = [(p.label or p.name, p.name) for p in ctx.registry.of_kind("image")]

    with gr.Tab("Image Gen", id="image", elem_id="tab-image"):
        job_state = gr.Textbox(visible=False, elem_id="gen-job-id")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                prompt = gr.Textbox(
                    label="Prompt",
                    lines=3,
                    elem_id="gen-prompt",
                    placeholder="e.g. a portrait photo in a sunlit garden, 85mm, soft light",
                    info="Describe the picture you want.",
                )
                negative = gr.Textbox(
                    label="Negative prompt",
                    lines=1,
                    elem_id="gen-negative",
                    info="Things to avoid (used by SDXL and SD 1.5; FLUX ignores it).",
                )
                with gr.Row():
                    base = gr.Dropdown(
                        label="Base model",
                        choices=[(m.label, m.id) for m in models],
                        value=default_model.id,
                        elem_id="gen-base",
                        info="The image model. Your LoRA must be trained for the same family.",
                    )
                    aspect = gr.Dropdown(
                        label="Shape",
                        choices=list(ASPECTS),
                        value="1:1 square",
                        elem_id="gen-aspect",
                        info="Picture shape at the model's best resolution.",
                    )
                with gr.Row():
                    count = gr.Slider(
                        1,
                        8,
                        value=1,
                        step=1,
                        label="Images",
                        elem_id="gen-count",
                        info="How many pictures to make (each with the next seed).",
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
                            info="More steps add detail but take longer (20–40 is typical).",
                        )
                        guidance = gr.Slider(
                            0,
                            30,
                            value=default_model.default_guidance,
                            step=0.5,
                            label="Guidance",
                            elem_id="gen-guidance",
                            info="How strictly to follow the prompt. FLUX: 2–4; SDXL: 5–8.",
                        )
                    with gr.Row():
                        width = gr.Number(
                            value=None,
                            precision=0,
                            label="Width (custom)",
                            elem_id="gen-width",
                            info="Leave empty to use the shape above.",
                        )
                        height = gr.Number(
                            value=None,
                            precision=0,
                            label="Height (custom)",
                            elem_id="gen-height",
                            info="Leave empty to use the shape above.",
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
                            info="Where images are made: built-in, ComfyUI, or placeholders.",
                        )
                with gr.Row():
                    go = gr.Button("Generate", variant="primary", elem_id="gen-go", scale=3)
                    stop = gr.Button("Cancel", variant="stop", elem_id="gen-cancel", scale=1)
            with gr.Column(scale=6):
                status = gr.HTML("", elem_id="gen-status")
                gallery = gr.Gallery(
                    label="Results",
                    columns=2,
                    height=520,
                    elem_id="gen-gallery",
                    object_fit="contain",
                    buttons=["download", "fullscreen"],
                )
                seeds = gr.Markdown("", elem_id="gen-seeds")
        with gr.Accordion(
            "History — every image you made, with its settings", open=False, elem_id="gen-history-box"
        ):
            history = gr.Dataframe(
                headers=["When", "Prompt", "Model", "Seeds", "Settings", "ID"],
                value=_history_rows(ctx),
                interactive=False,
                wrap=True,
                elem_id="gen-history",
            )

    inputs = {prompt, negative, base, aspect, count, seed, steps, guidance, width, height, scheduler, backend}

    def _form(data) -> GenerateForm:
        model = ctx.catalogue.get(data[base])
        w, h = aspect_size(model.resolution, data[aspect], family_factor(model.family))
        custom_w, custom_h = data[width], data[height]
        return GenerateForm(
            prompt=data[prompt],
            negative_prompt=data[negative] or "",
            backend=data[backend],
            base_model=data[base],
            width=int(custom_w) if custom_w else w,
            height=int(custom_h) if custom_h else h,
            steps=int(data[steps]),
            guidance=float(data[guidance]),
            scheduler=data[scheduler],
            seed=int(data[seed]) if data[seed] is not None else -1,
            count=int(data[count]),
        )

    @ui_action("image.generate")
    def start(data):
        job_id, prepared = service.submit(_form(data))
        for note in prepared.notes:
            gr.Info(note)
        return job_id

    @ui_action("image.follow")
    def watch(job_id):
        if not job_id:
            return
        job: JobRecord | None = None
        for job, _events in follow(ctx.runner, job_id):
            yield progress_html(job), gr.update(), gr.update(), gr.update()
        if job is None:
            return
        if job.status == "succeeded" and job.result:
            images = [(i["path"], f"seed {i['seed']}") for i in job.result["images"]]
            notes = "".join(f"<br>⚠ {html.escape(n)}" for n in job.result.get("notes", []))
            seed_text = "Seeds: " + ", ".join(str(i["seed"]) for i in job.result["images"])
            yield progress_html(job, extra=notes), images, seed_text, _history_rows(ctx)
        else:
            yield progress_html(job), gr.update(), gr.update(), gr.update()

    @ui_action("image.cancel")
    def cancel(job_id):
        if job_id:
            ctx.runner.cancel(job_id)

    @ui_action("image.model_defaults", quiet=True)
    def model_defaults(model_id):
        model = ctx.catalogue.get(model_id)
        return model.default_steps, model.default_guidance

    base.change(model_defaults, inputs=[base], outputs=[steps, guidance], api_visibility="private")
    go.click(start, inputs=inputs, outputs=[job_state], api_visibility="private").then(
        watch,
        inputs=[job_state],
        outputs=[status, gallery, seeds, history],
        api_visibility="private",
        concurrency_limit=None,
    )
    stop.click(cancel, inputs=[job_state], outputs=None, api_visibility="private")
