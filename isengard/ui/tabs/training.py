"""The Training tab: pick a character and a base model, press Train, watch the LoRA being learned."""

from __future__ import annotations

import html
import time
from pathlib import Path

import gradio as gr

from isengard.jobs import JobRecord, format_seconds
from isengard.ui import params_form
from isengard.ui.actions import ui_action
from isengard.ui.character_views import readiness_card
from isengard.ui.follow import progress_html
from isengard.ui.likeness_views import likeness_html, lora_report, recommended_file, thumbnails_html
from isengard.ui.model_views import licence_html, model_choice
from isengard.ui.plugin_status import status_html
from plugins.training.interface import TrainingParams

SIMPLE = ("rank", "learning_rate", "resolution", "save_every", "sample_every")
UPDATE_SECONDS = 0.5


def _status_html(job: JobRecord | None) -> str:
    if job is None:
        return '<div class="isg-muted" id="train-idle">No training running. Pick a character and press Train.</div>'
    p = job.progress
    facts = []
    if p.get("step") is not None and p.get("total"):
        facts.append(f'<b id="train-step">step {p["step"]} / {p["total"]}</b>')
    if p.get("it_s"):
        facts.append(f"{p['it_s']:.2f} steps/s")
    if p.get("eta_s") and not job.terminal:
        facts.append(f"about {format_seconds(p['eta_s'])} left")
    if p.get("loss") is not None:
        facts.append(f"loss {p['loss']:.4f}")
    extra = f"<div>{' · '.join(facts)}</div>" if facts else ""
    if job.status == "succeeded" and job.result:
        extra += f'<div class="isg-ok" id="train-done">LoRA saved: <code>{html.escape(job.result["lora_path"])}</code></div>'
    return progress_html(job, extra=extra)


def _log_tail(ctx, job_id: str, lines: int = 14) -> str:
    out = []
    for ev in ctx.runner.events(job_id)[-200:]:
        stamp = time.strftime("%H:%M:%S", time.localtime(ev.ts))
        data = ev.data
        if ev.type == "status":
            out.append(
                f"{stamp} status: {data.get('status')}" + (f" — {data['error']}" if data.get("error") else "")
            )
        elif data.get("message"):
            out.append(f"{stamp} {data['message']}")
        elif data.get("checkpoint"):
            out.append(f"{stamp} checkpoint saved at step {data.get('step')}")
        elif data.get("samples"):
            out.append(f"{stamp} samples at step {data.get('step')}")
    return "\n".join(out[-lines:])


def _loss_frame(ctx, job_id: str):
    import pandas as pd

    curve = ctx.training.loss_curve(job_id)
    return pd.DataFrame({"step": [s for s, _ in curve], "loss": [v for _, v in curve]})


def _samples(ctx, job_id: str, newest: int = 6):
    items = ctx.training.samples(job_id)[-newest:]
    return [(path, f"step {step}") for step, path in reversed(items)]


def _backend_html(ctx, name: str) -> str:
    return status_html(ctx, "training", name, "train-backend-reason")


def _lora_rows(ctx, char_id) -> list[list[str]]:
    if not char_id:
        return []
    rows = []
    for rec in ctx.loras.for_character(int(char_id), kinds=("final", "checkpoint")):
        rows.append(
            [
                rec.name,
                "final" if rec.kind == "final" else f"checkpoint {rec.step}",
                rec.family,
                rec.base_model,
                time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.created_at)),
                str(rec.id),
            ]
        )
    return rows


def render(ctx) -> list:
    svc = ctx.training
    models = ctx.catalogue.all()
    default_model = next((m for m in models if m.id == ctx.generation.default_base), models[0])
    first_preset, first_reason = svc.recommend(default_model.id)
    backends = [(p.label or p.name, p.name) for p in ctx.registry.of_kind("training")]

    with gr.Tab("Training", id="training", elem_id="tab-training") as tab:
        job_id = gr.Textbox(visible=False, elem_id="train-job-id")
        follow_key = gr.Textbox(visible=False, elem_id="train-follow-key")  # "<job id>@<time>": follow it
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320):
                character = gr.Dropdown(
                    label="Character",
                    choices=[],
                    elem_id="train-character",
                    info="Whose LoRA to train. Their photos and captions are used.",
                )
                readiness = gr.HTML(readiness_card(None), elem_id="train-readiness")
                base = gr.Dropdown(
                    label="Base model",
                    choices=[model_choice(m) for m in models],
                    value=default_model.id,
                    elem_id="train-base",
                    info="The image model the LoRA is for. Generate with the same one.",
                )
                model_state = gr.HTML("", elem_id="train-model-state")
                preset = gr.Dropdown(
                    label="Preset",
                    choices=[(p.label, p.id) for p in svc.presets_for(default_model)],
                    value=first_preset.id,
                    elem_id="train-preset",
                    info="Settings sized for your GPU's memory. Isengard picks one; you can change it.",
                )
                preset_reason = gr.Markdown(first_reason, elem_id="train-preset-reason")
                start_values = first_preset.training_params()
                simple = params_form.build(TrainingParams, include={"steps"}, values=start_values)
                with gr.Accordion("Advanced settings", open=False, elem_id="train-advanced"):
                    backend = gr.Dropdown(
                        label="Training backend",
                        choices=backends,
                        value=svc.default_backend,
                        elem_id="train-backend",
                        info="Which program trains the LoRA: the built-in trainer, your ai-toolkit, or the "
                        "simulated one of fast-test mode.",
                    )
                    backend_state = gr.HTML(
                        _backend_html(ctx, svc.default_backend), elem_id="train-backend-state"
                    )
                    advanced = params_form.build(TrainingParams, exclude={"steps"}, values=start_values)
                    sample_prompts = gr.Textbox(
                        label="Sample prompts",
                        lines=3,
                        elem_id="train-sample-prompts",
                        placeholder="Empty: five standard framings (close-up, half body, three-quarter view, "
                        "other light, full body).",
                        info="One per line, each with the trigger word. The samples are also how the likeness "
                        "is measured, so keep the person in them.",
                    )
                with gr.Row():
                    start = gr.Button("Train", variant="primary", elem_id="train-start", scale=3)
                    cancel = gr.Button("Cancel", variant="stop", elem_id="train-cancel", scale=1)
                    resume = gr.Button("Resume", elem_id="train-resume", scale=1)
            with gr.Column(scale=6):
                status = gr.HTML(_status_html(None), elem_id="train-status")
                loss_plot = gr.LinePlot(
                    x="step",
                    y="loss",
                    title="Loss (lower is better; it is noisy)",
                    height=230,
                    elem_id="train-loss",
                )
                likeness_box = gr.HTML(likeness_html(ctx, None), elem_id="train-likeness-box")
                use_checkpoint = gr.Button(
                    "Use this checkpoint in Image Gen", visible=False, elem_id="train-use-checkpoint"
                )
                samples = gr.Gallery(
                    label="Newest samples (fixed seeds: watch the face appear)",
                    columns=3,
                    height=300,
                    allow_preview=True,
                    elem_id="train-samples",
                )
                log = gr.Textbox(label="Log", lines=8, max_lines=8, interactive=False, elem_id="train-log")
        with gr.Accordion("Trained LoRAs", open=True, elem_id="train-loras-box"):
            loras = gr.Dataframe(
                headers=["LoRA", "Kind", "Family", "Base model", "Created", "ID"],
                interactive=False,
                wrap=True,
                elem_id="train-loras",
            )
            with gr.Row():
                pick_lora = gr.Dropdown(
                    label="LoRA file",
                    choices=[],
                    elem_id="train-pick-lora",
                    scale=3,
                    info="Pick a LoRA to download it (it also works in ComfyUI and A1111).",
                )
                download = gr.DownloadButton("Download", elem_id="train-download", scale=1)
                measure = gr.Button("Measure likeness", elem_id="train-measure", scale=1)
            lora_likeness = gr.HTML("", elem_id="train-lora-likeness")
            lora_probes = gr.HTML("", elem_id="train-lora-probes")
            report_file = gr.DownloadButton(
                "Download the likeness report (JSON)", visible=False, elem_id="train-lora-report"
            )

    params = {**simple, **advanced}
    names = list(params)

    def model_facts(model_id: str) -> str:
        model = ctx.catalogue.get(model_id)
        state = (
            "not needed: fast-test mode simulates training"
            if ctx.settings.fast_test
            else ctx.models.status(model)
        )
        trained = svc.training_model(model)
        note = f" LoRAs train on {html.escape(trained.label)}." if trained.id != model.id else ""
        return (
            f"{licence_html(model)}<br>"
            f'<span class="isg-muted">{html.escape(model.description)}{note} Model files: {html.escape(state)}.</span>'
        )

    def preset_values(preset_id: str) -> list:
        values = svc.preset(preset_id).training_params()
        return [getattr(values, name) for name in names]

    def lora_choices(char_id):
        if not char_id:
            return gr.update(choices=[], value=None)
        records = ctx.loras.for_character(int(char_id), kinds=("final", "checkpoint"))
        return gr.update(choices=[(r.label, r.id) for r in records], value=records[0].id if records else None)

    def view(job: JobRecord | None):
        if job is None:
            return {status: _status_html(None)}
        return {
            status: _status_html(job),
            loss_plot: _loss_frame(ctx, job.id),
            likeness_box: likeness_html(ctx, job),
            use_checkpoint: gr.update(visible=bool(recommended_file(job))),
            samples: _samples(ctx, job.id),
            log: _log_tail(ctx, job.id),
        }

    @ui_action("training.choose_character")
    def choose_character(char_id):
        if not char_id:
            return readiness_card(None), [], gr.update(choices=[], value=None)
        state, _ = ctx.characters.report(int(char_id))
        return readiness_card(state), _lora_rows(ctx, char_id), lora_choices(char_id)

    @ui_action("training.choose_model")
    def choose_model(model_id):
        model = ctx.catalogue.get(model_id)
        chosen, reason = svc.recommend(model_id)
        choices = [(p.label, p.id) for p in svc.presets_for(model)]
        return [model_facts(model_id), gr.update(choices=choices, value=chosen.id), reason]

    @ui_action("training.choose_preset")
    def choose_preset(preset_id):
        if not preset_id:
            return [gr.update() for _ in names]
        return preset_values(preset_id)

    @ui_action("training.start")
    def start_training(data):
        if not data[character]:
            raise gr.Error("Pick a character first (create one in the Characters tab).")
        overrides = params_form.coerce(TrainingParams, {name: data[params[name]] for name in names})
        own_prompts = [line.strip() for line in (data[sample_prompts] or "").splitlines() if line.strip()]
        new_id = svc.submit(
            int(data[character]),
            base_model=data[base],
            backend=data[backend],
            preset=data[preset],
            overrides=overrides,
            sample_prompts=own_prompts or None,
        )
        gr.Info("Training started. You can close the page: it keeps running and you can come back.")
        return new_id, f"{new_id}@{time.time()}"

    @ui_action("training.follow")
    def follow(key):
        current = (key or "").rsplit("@", 1)[0]
        if not current:
            yield view(None)
            return
        last = 0.0
        for job, _ in ctx.runner.follow(current, poll=0.25):
            if job.terminal or time.monotonic() - last >= UPDATE_SECONDS:
                last = time.monotonic()
                yield view(job)
        job = ctx.runner.get(current)
        if job and job.params.get("character_id"):
            char_id = job.params["character_id"]
            yield view(job) | {loras: _lora_rows(ctx, char_id), pick_lora: lora_choices(char_id)}

    @ui_action("training.cancel")
    def cancel_training(current):
        if not current:
            raise gr.Error("No training to cancel.")
        if not ctx.runner.cancel(current):
            gr.Info("That training has already ended.")

    @ui_action("training.resume")
    def resume_training(current, char_id):
        target = current
        job = ctx.runner.get(target) if target else None
        if job is None or job.status not in ("interrupted", "cancelled", "failed"):
            stopped = [
                j
                for j in ctx.runner.list(limit=50, kinds=("train",))
                if j.status in ("interrupted", "cancelled", "failed")
                and (not char_id or j.params.get("character_id") == int(char_id))
            ]
            if not stopped:
                raise gr.Error("There is no stopped training to resume.")
            target = stopped[0].id
        ctx.runner.resume(target)
        gr.Info("Resuming from the last checkpoint.")
        return target, f"{target}@{time.time()}"

    @ui_action("training.use_checkpoint")
    def use_recommended(current):
        job = ctx.runner.get(current) if current else None
        path = recommended_file(job)
        if not path:
            raise gr.Error("This training has no recommended checkpoint.")
        ctx.loras.choose_checkpoint(int(job.result["lora_id"]), Path(path))
        step = job.result["recommendation"]["step"]
        gr.Info(f"Image Gen now uses step {step:,} for this character.")

    @ui_action("training.pick_lora")
    def pick(lora_id):
        if not lora_id:
            return gr.update(value=None), "", "", gr.update(visible=False)
        html_text, pictures, report_path = lora_report(ctx, lora_id)
        return (
            gr.update(value=str(ctx.loras.get(int(lora_id)).path)),
            html_text,
            thumbnails_html(pictures),
            gr.update(value=report_path, visible=bool(report_path)),
        )

    @ui_action("training.measure")
    def measure_likeness(lora_id):
        if not lora_id:
            raise gr.Error("Pick a LoRA file first.")
        record = ctx.loras.get(int(lora_id))
        if not record.character_id:
            raise gr.Error("This LoRA belongs to no character, so there is no one to compare it with.")
        measuring = ctx.evaluation.submit(record.character_id, lora=str(record.path))
        for job, _ in ctx.runner.follow(measuring, poll=0.3):
            if not job.terminal:
                note = job.progress.get("message") or "Measuring the likeness"
                yield f'<div class="isg-muted">{html.escape(note)}…</div>', "", gr.update()
        job = ctx.runner.get(measuring)
        if job.status != "succeeded":
            yield (
                f'<div class="isg-warn">The likeness could not be measured: {html.escape(job.error or job.status)}</div>',
                "",
                gr.update(),
            )
            return
        html_text, pictures, report_path = lora_report(ctx, lora_id)
        yield html_text, thumbnails_html(pictures), gr.update(value=report_path, visible=bool(report_path))

    @ui_action("training.page_load")
    def on_load():
        characters = ctx.characters.list()
        selected = characters[0].id if characters else None
        active = [j for j in ctx.runner.list(limit=20, kinds=("train",)) if not j.terminal]
        current = active[0].id if active else None
        if current:
            selected = ctx.runner.get(current).params.get("character_id", selected)
        card, rows, choices = choose_character(selected)
        key = f"{current}@{time.time()}" if current else gr.update()
        return (
            gr.update(choices=[(c.name, c.id) for c in characters], value=selected),
            card,
            rows,
            choices,
            current or gr.update(),
            key,
            model_facts(base.value),
        )

    @ui_action("training.tab_opened")
    def refresh_characters(selected):
        characters = ctx.characters.list()
        ids = [c.id for c in characters]
        keep = selected if selected in ids else (ids[0] if ids else None)
        return gr.update(choices=[(c.name, c.id) for c in characters], value=keep)

    private = {"api_visibility": "private"}
    inputs = {character, base, backend, preset, sample_prompts, *params.values()}
    character.change(choose_character, inputs=[character], outputs=[readiness, loras, pick_lora], **private)
    base.change(choose_model, inputs=[base], outputs=[model_state, preset, preset_reason], **private)
    preset.change(choose_preset, inputs=[preset], outputs=[params[n] for n in names], **private)
    follow_outputs = [
        status,
        loss_plot,
        likeness_box,
        use_checkpoint,
        samples,
        log,
        loras,
        pick_lora,
    ]
    follow_event = follow_key.change(
        follow,
        inputs=[follow_key],
        outputs=follow_outputs,
        concurrency_limit=None,
        show_progress="hidden",
        **private,
    )
    start.click(
        start_training, inputs=inputs, outputs=[job_id, follow_key], cancels=[follow_event], **private
    )
    cancel.click(cancel_training, inputs=[job_id], **private)
    use_checkpoint.click(use_recommended, inputs=[job_id], **private)
    resume.click(
        resume_training,
        inputs=[job_id, character],
        outputs=[job_id, follow_key],
        cancels=[follow_event],
        **private,
    )
    pick_lora.change(
        pick, inputs=[pick_lora], outputs=[download, lora_likeness, lora_probes, report_file], **private
    )
    measure.click(
        measure_likeness, inputs=[pick_lora], outputs=[lora_likeness, lora_probes, report_file], **private
    )
    backend.input(lambda name: _backend_html(ctx, name), inputs=[backend], outputs=[backend_state], **private)
    tab.select(refresh_characters, inputs=[character], outputs=[character], show_progress="hidden", **private)
    return [(on_load, [], [character, readiness, loras, pick_lora, job_id, follow_key, model_state])]
