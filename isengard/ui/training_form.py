"""The Training tab's layout: the person, the base model and preset, the steps and advanced settings;
Train beside its progress, likeness and sample timeline; the LoRA library below. Its components are
handed to the tab's handlers."""

from __future__ import annotations

import gradio as gr

from isengard.ui import lora_library, params_form, picture_scoring
from isengard.ui.character_views import readiness_card
from isengard.ui.hints import hint_line
from isengard.ui.likeness_views import likeness_html
from isengard.ui.model_views import model_choice
from isengard.ui.plugin_status import status_html as plugin_status_html
from isengard.ui.shared import Parts
from isengard.ui.training_views import NO_SAMPLES, status_html
from plugins.training.interface import TrainingParams

TICK_SECONDS = 1.0  # how often a tab reads the followed job's record (it redraws only what changed)
TEST_MODE_PRESETS = "Test mode: training is simulated, so any preset runs quickly here."
NO_CHARACTER = "No character yet: add a person and their photos in the Characters tab first."
UNET_ONLY = ("train_conv", "conv_rank")  # convolution layers exist in SD 1.5 / SDXL only
# a guidance input the model sees while training: FLUX.1 / FLUX.2 [dev]
EMBEDDED_GUIDANCE_ONLY = ("guidance",)


def _backend_html(ctx, name: str) -> str:
    return plugin_status_html(ctx, "training", name, "train-backend-reason")


def build(ctx, shared) -> Parts:
    svc = ctx.training
    models = ctx.catalogue.all()
    default_model = next((m for m in models if m.id == ctx.generation.default_base), models[0])
    first_preset, first_reason = svc.recommend(default_model.id)
    if ctx.settings.fast_test:
        first_reason = TEST_MODE_PRESETS
    backends = [
        (p.label or p.name, p.name)
        for p in ctx.registry.of_kind("training")
        if p.name != "mock" or ctx.settings.fast_test  # the simulated trainer belongs to test mode
    ]

    with gr.Tab("Training", id="training", elem_id="tab-training") as tab:
        job_id = gr.Textbox(visible=False, elem_id="train-job-id")
        follow_key = gr.Textbox(visible=False, elem_id="train-follow-key")  # "<job id>@<time>": follow it
        # the job's record, read again on every tick (like the header's): a reload or a second tab reads
        # the same truth, and no long-lived handler can go stale; `drawn` is what this tab last drew
        ticker = gr.Timer(TICK_SECONDS)
        drawn = gr.State("")
        hint_lines: dict = {}
        with gr.Row(equal_height=False, elem_classes=["isg-stack"]):
            with gr.Column(scale=4, min_width=320):
                character = gr.Dropdown(
                    label="Character",
                    choices=[],
                    elem_id="train-character",
                    info="Whose likeness to train. Their photos and captions are used.",
                )
                hint_lines["character"] = hint_line("train-character-hint")
                readiness = gr.HTML(readiness_card(None, empty=NO_CHARACTER), elem_id="train-readiness")
                base = gr.Dropdown(
                    label="Base model",
                    choices=[model_choice(m) for m in models],
                    value=default_model.id,
                    elem_id="train-base",
                    info="The image model the LoRA is for. Make pictures with the same one.",
                )
                model_state = gr.HTML("", elem_id="train-model-state")
                preset = gr.Dropdown(
                    label="Preset",
                    choices=[(p.label, p.id) for p in svc.presets_for(default_model)],
                    value=first_preset.id,
                    elem_id="train-preset",
                    info="Settings sized for this computer's graphics memory. Isengard picks one; you can "
                    "change it.",
                )
                preset_reason = gr.Markdown(first_reason, elem_id="train-preset-reason")
                # the preset whose values the boxes hold (made here, inside the layout: a State made
                # outside it shifts the tab's children and doubled the tab bar on phones)
                applied_preset = gr.State(first_preset.id)
                start_values = first_preset.training_params()
                simple = params_form.build(
                    TrainingParams, include={"steps"}, values=start_values, hint_lines=hint_lines
                )
                with gr.Accordion("Advanced settings", open=False, elem_id="train-advanced"):
                    backend = gr.Dropdown(
                        label="Training program",
                        choices=backends,
                        value=svc.default_backend,
                        elem_id="train-backend",
                        info="Which program trains the LoRA: the built-in trainer or your own ai-toolkit.",
                        visible=len(backends) > 1,
                    )
                    backend_state = gr.HTML(
                        _backend_html(ctx, svc.default_backend), elem_id="train-backend-state"
                    )
                    advanced = params_form.build(
                        TrainingParams, exclude={"steps"}, values=start_values, hint_lines=hint_lines
                    )
                    sample_prompts = gr.Textbox(
                        label="Sample prompts",
                        lines=5,
                        elem_id="train-sample-prompts",
                        placeholder="Empty: five standard framings (close-up, half body, three-quarter view, "
                        "other light, full body).",
                        info="What the samples show, one per line, each with the trigger word. Filled with five "
                        "standard framings; write your own if you like. The samples are also how the likeness is "
                        "measured, so keep the person in them.",
                    )
                    prompts_shown = gr.State(
                        ""
                    )  # the defaults last filled in (replaced when the person changes)
                    hint_lines["sample_prompts"] = hint_line("train-sample-prompts-hint")
            with gr.Column(scale=6):
                with gr.Row(elem_classes=["isg-keep-row"]):
                    start = gr.Button(
                        "Train", variant="primary", elem_id="train-start", scale=3, min_width=90
                    )
                    cancel = gr.Button("Stop", variant="stop", elem_id="train-cancel", scale=1, min_width=70)
                    resume = gr.Button("Resume", elem_id="train-resume", scale=1, min_width=80)
                hint_lines["start"] = hint_line("train-start-hint")
                status = gr.HTML(status_html(ctx, None), elem_id="train-status")
                make_pictures = gr.Button(
                    "Make pictures", variant="primary", visible=False, elem_id="train-next"
                )
                likeness_box = gr.HTML(likeness_html(ctx, None), elem_id="train-likeness-box")
                use_checkpoint = gr.Button(
                    "Use this checkpoint in Image Gen", visible=False, elem_id="train-use-checkpoint"
                )
                with gr.Group(elem_id="train-timeline"):
                    timeline_job = gr.State(None)  # whose samples the timeline shows
                    timeline_slider = gr.Slider(
                        0,
                        1,
                        value=0,
                        step=1,
                        label="Samples along the way",
                        elem_id="train-timeline-slider",
                        interactive=False,
                        visible=False,  # shown once there are samples to slide through
                        info="Fixed seeds, the same prompts at every stop: the face appears as it learns.",
                    )
                    timeline_note = gr.Markdown(NO_SAMPLES, elem_id="train-timeline-note")
                    samples_view = gr.Gallery(
                        columns=3,
                        height="auto",
                        allow_preview=True,
                        elem_id="train-samples",
                        show_label=False,
                        visible=False,
                    )
                with gr.Accordion("Details: loss curve and log", open=False, elem_id="train-details"):
                    loss_plot = gr.LinePlot(
                        x="step",
                        y="loss",
                        title="Loss (lower is better; it is noisy)",
                        height=230,
                        elem_id="train-loss",
                    )
                    log = gr.Textbox(
                        label="Log", lines=8, max_lines=8, interactive=False, elem_id="train-log"
                    )
        library = lora_library.build(ctx, shared)
        picture_scoring.build(ctx, shared)

    return Parts(
        svc=svc,
        models=models,
        default_model=default_model,
        first_reason=first_reason,
        backends=backends,
        tab=tab,
        job_id=job_id,
        follow_key=follow_key,
        ticker=ticker,
        drawn=drawn,
        hint_lines=hint_lines,
        character=character,
        readiness=readiness,
        base=base,
        model_state=model_state,
        preset=preset,
        preset_reason=preset_reason,
        applied_preset=applied_preset,
        start_values=start_values,
        simple=simple,
        backend=backend,
        backend_state=backend_state,
        advanced=advanced,
        sample_prompts=sample_prompts,
        prompts_shown=prompts_shown,
        start=start,
        cancel=cancel,
        resume=resume,
        status=status,
        make_pictures=make_pictures,
        likeness_box=likeness_box,
        use_checkpoint=use_checkpoint,
        timeline_job=timeline_job,
        timeline_slider=timeline_slider,
        timeline_note=timeline_note,
        samples_view=samples_view,
        loss_plot=loss_plot,
        log=log,
        library=library,
    )
