"""The Training tab: pick a character and a base model, press Train, watch the LoRA being learned."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from isengard.errors import InputError
from isengard.evaluation.probes import probe_prompts
from isengard.jobs import JobRecord
from isengard.ui import lora_library, params_form, training_form, training_model
from isengard.ui.actions import ui_action
from isengard.ui.character_views import readiness_card
from isengard.ui.hints import FieldHints
from isengard.ui.likeness_views import likeness_html, recommended_file
from isengard.ui.shared import Arrival, remembered
from isengard.ui.training_form import (
    EMBEDDED_GUIDANCE_ONLY,
    NO_CHARACTER,
    UNET_ONLY,
    _backend_html,
)
from isengard.ui.training_views import character_name, log_tail, loss_frame, status_html, timeline
from plugins.training.interface import TrainingParams


def render(ctx, shared) -> list:
    ui = training_form.build(ctx, shared)
    # fmt: off
    (
        svc, tab, job_id, follow_key, ticker, drawn, hint_lines,
        character, readiness, base, model_state, preset, simple, backend,
        backend_state, advanced, sample_prompts, prompts_shown, start, cancel, resume, status,
        make_pictures, likeness_box, use_checkpoint, timeline_job, timeline_slider, timeline_note,
        samples_view, loss_plot, log, library,
    ) = ui.parts(
        "svc tab job_id follow_key ticker drawn hint_lines "
        "character readiness base model_state preset simple backend "
        "backend_state advanced sample_prompts prompts_shown start cancel resume status "
        "make_pictures likeness_box use_checkpoint timeline_job timeline_slider timeline_note "
        "samples_view loss_plot log library "
    )
    # fmt: on
    params = {**simple, **advanced}
    names = list(params)
    start_hints = FieldHints(hint_lines, default="start")
    models = training_model.wire(ctx, ui, params, start_hints)
    model_facts, family_fields = models.model_facts, models.family_fields

    def next_button(job: JobRecord | None):
        if job is None or job.status != "succeeded":
            return gr.update(visible=False)
        name = character_name(ctx, job)
        return gr.update(
            value=f"Next: make pictures of {name} →" if name else "Next: make pictures →", visible=True
        )

    def view(job: JobRecord | None):
        if job is None:
            return {status: status_html(ctx, None), make_pictures: gr.update(visible=False)}
        return {
            status: status_html(ctx, job),
            make_pictures: next_button(job),
            loss_plot: loss_frame(ctx, job.id),
            likeness_box: likeness_html(ctx, job),
            use_checkpoint: gr.update(visible=bool(recommended_file(job))),
            **timeline_view(job.id),
            log: log_tail(ctx, job.id),
        }

    def timeline_view(job_id, index=None) -> dict:
        slider, pictures, note = timeline(ctx, job_id, index)
        return {timeline_job: job_id, timeline_slider: slider, samples_view: pictures, timeline_note: note}

    def character_updates(char_id) -> dict:
        if not char_id:
            return {
                readiness: readiness_card(None, empty=NO_CHARACTER),
                library.pick: lora_library.choices(ctx, None),
            }
        state, _ = ctx.characters.report(int(char_id))
        return {readiness: readiness_card(state), library.pick: lora_library.choices(ctx, char_id)}

    def character_choices():
        return [(c.name, c.id) for c in ctx.characters.list()]

    def arrive(char_id, follow=False, **_):
        """Someone is sent here (from Characters, or the header's activity line)."""
        choices = character_choices()
        ids = [value for _, value in choices]
        out = {
            character: gr.update(
                choices=choices, value=char_id if char_id in ids else (ids[0] if ids else None)
            )
        }
        active = [j for j in ctx.runner.list(limit=20, kinds=("train",)) if not j.terminal]
        if follow and active:
            out |= {job_id: active[0].id, follow_key: f"{active[0].id}@{time.time()}"}
        return out

    shared.arrivals["training"] = Arrival([character, job_id, follow_key], arrive)

    def default_prompts(char_id) -> str:
        if not char_id:
            return ""
        person = ctx.characters.get(int(char_id))
        return "\n".join(probe_prompts(person.trigger_word, person.class_word))

    @ui_action("training.choose_character")
    def choose_character(char_id, where, prompts_now, prompts_before):
        place = dict(where or {}) | {"character": int(char_id) if char_id else None}
        out = character_updates(char_id) | {shared.where: place, start: train_button(char_id)}
        if (prompts_now or "").strip() in ("", (prompts_before or "").strip()):  # never over the person's own
            fresh = default_prompts(char_id)
            out |= {sample_prompts: fresh, prompts_shown: fresh}
        return out

    @ui_action("training.timeline", quiet=True)
    def slide(job, index):
        return timeline_view(job, index)

    @ui_action("training.lora_timeline")
    def lora_timeline(lora_id):
        record = ctx.loras.get(int(lora_id)) if lora_id else None
        if record is None or not record.job_id:
            return gr.skip()
        return timeline_view(record.job_id)

    @ui_action("training.start", hints=start_hints)
    def start_training(data):
        if not data[character]:
            raise InputError("Pick a character first (create one in the Characters tab).", field="character")
        overrides = params_form.coerce(TrainingParams, {name: data[params[name]] for name in names})
        own_prompts = [line.strip() for line in (data[sample_prompts] or "").splitlines() if line.strip()]
        if own_prompts == default_prompts(data[character]).splitlines():
            own_prompts = []  # the standard five, as filled in: the trainer's own probe set
        try:
            new_id = svc.submit(
                int(data[character]),
                base_model=data[base],
                backend=data[backend],
                preset=data[preset],
                overrides=overrides,
                sample_prompts=own_prompts or None,
            )
        except InputError as exc:
            if exc.field is None and "sample prompt" in exc.message.lower():
                exc.field = "sample_prompts"
            raise
        gr.Info("Training started. You can close the page: it keeps running and you can come back.")
        return {job_id: new_id, follow_key: f"{new_id}@{time.time()}"}

    def fingerprint(job: JobRecord | None) -> str:
        return f"{job.id}|{job.status}|{job.updated_at}" if job else ""

    def train_button(char_id) -> dict:
        """Train is off while the chosen person trains — started here, in another tab or by a script."""
        busy = bool(char_id) and svc.training_now(int(char_id)) is not None
        return gr.update(interactive=not busy, value="Training…" if busy else "Train")

    def settings_of(job: JobRecord) -> dict:
        """The running job's own settings in the form (a reloaded tab shows them, not the defaults)."""
        values = job.params.get("params") or {}
        return {component: values[name] for name, component in params.items() if name in values}

    @ui_action("training.follow")
    def follow(key, char_id):
        """Draw the job now (it was started, resumed, arrived at or is running when the page loads)."""
        current = (key or "").rsplit("@", 1)[0]
        job = ctx.runner.get(current) if current else None
        out = view(job) | {drawn: fingerprint(job), start: train_button(char_id)}
        if job is not None and not job.terminal:
            out |= settings_of(job)
        return out | finished_lora(job, char_id)

    def finished_lora(job: JobRecord | None, char_id) -> dict:
        """A finished training's LoRA joins the list, drawn by whichever of follow or tick sees the end
        first, and only while its person is the one chosen: an earlier job's redraw that lands after
        another person was chosen must not bring that person's LoRAs back."""
        person = job.params.get("character_id") if job is not None and job.terminal else None
        if not person or not char_id or int(char_id) != person:
            return {}
        return {library.pick: lora_library.choices(ctx, person)}

    @ui_action("training.tick", quiet=True)
    def tick(current, seen, char_id):
        """Every second: Train's state, and the job again when its record changed since it was drawn."""
        job = ctx.runner.get(current) if current else None
        out = {start: train_button(char_id)}
        if job is None or fingerprint(job) == seen:
            return out
        out |= view(job) | {drawn: fingerprint(job)}
        if job.terminal and (seen or "").startswith(f"{job.id}|{job.status}|"):
            return out  # the end was drawn already: a later change of the record must not reset the
            # library (that re-selects the LoRA and refills Rename while the person types)
        return out | finished_lora(job, char_id)

    @ui_action("training.cancel", hints=start_hints)
    def cancel_training(current):
        if not current:
            raise InputError("Nothing is training right now.")
        if not ctx.runner.cancel(current):
            gr.Info("That training has already ended.")
        return {}

    @ui_action("training.resume", hints=start_hints)
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
                raise InputError("There is no stopped training to resume.")
            target = stopped[0].id
        ctx.runner.resume(target)
        gr.Info("Resuming from the last checkpoint.")
        return {job_id: target, follow_key: f"{target}@{time.time()}"}

    @ui_action("training.use_checkpoint")
    def use_recommended(current):
        job = ctx.runner.get(current) if current else None
        path = recommended_file(job)
        if not path:
            raise InputError("This training has no recommended checkpoint.")
        ctx.loras.choose_checkpoint(int(job.result["lora_id"]), Path(path))
        step = job.result["recommendation"]["step"]
        gr.Info(f"Image Gen now uses step {step:,} for this character.")

    @ui_action("training.page_load")
    def on_load(where):
        choices = character_choices()
        selected = remembered(where, [value for _, value in choices])
        recent = ctx.runner.list(limit=20, kinds=("train",))
        active = [j for j in recent if not j.terminal]
        current = active[0].id if active else None
        if current:
            selected = ctx.runner.get(current).params.get("character_id", selected)
        elif selected:  # the person's last training, if it stopped short: failed, stopped or interrupted
            theirs = [j for j in recent if j.params.get("character_id") == int(selected)]
            if theirs and theirs[0].status in ("failed", "cancelled", "interrupted"):
                current = theirs[0].id
        return (
            {character: gr.update(choices=choices, value=selected)}
            | character_updates(selected)
            | {
                job_id: current or gr.update(),
                follow_key: f"{current}@{time.time()}" if current else gr.update(),
                model_state: model_facts(base.value),
            }
            | family_fields(base.value)
        )

    @ui_action("training.tab_opened")
    def refresh_characters(where):
        choices = character_choices()
        return gr.update(choices=choices, value=remembered(where, [value for _, value in choices]))

    private = {"api_visibility": "private"}
    inputs = {character, base, backend, preset, sample_prompts, *params.values()}
    family_outputs = [params[n] for n in names if n in (*UNET_ONLY, *EMBEDDED_GUIDANCE_ONLY)]
    character.change(
        choose_character,
        inputs=[character, shared.where, sample_prompts, prompts_shown],
        outputs=[readiness, library.pick, shared.where, sample_prompts, prompts_shown, start],
        show_progress="hidden",
        **private,
    )
    follow_outputs = [
        status,
        make_pictures,
        loss_plot,
        likeness_box,
        use_checkpoint,
        timeline_job,
        timeline_slider,
        samples_view,
        timeline_note,
        log,
        library.pick,
    ]
    drawn_outputs = [*follow_outputs, drawn, start]
    follow_key.change(
        follow,
        inputs=[follow_key, character],
        outputs=[*drawn_outputs, *params.values()],
        concurrency_limit=None,
        show_progress="hidden",
        **private,
    )
    ticker.tick(
        tick,
        inputs=[job_id, drawn, character],
        outputs=drawn_outputs,
        concurrency_limit=None,
        show_progress="hidden",
        **private,
    )
    start.click(
        start_training,
        inputs=inputs,
        outputs=[job_id, follow_key, *start_hints.components],
        **private,
    )
    start.click(None, js=ASK_TO_NOTIFY, **private)
    cancel.click(cancel_training, inputs=[job_id], outputs=start_hints.components, **private)
    use_checkpoint.click(use_recommended, inputs=[job_id], **private)
    resume.click(
        resume_training,
        inputs=[job_id, character],
        outputs=[job_id, follow_key, *start_hints.components],
        **private,
    )
    timeline_parts = [timeline_job, timeline_slider, samples_view, timeline_note]
    timeline_slider.input(slide, inputs=[timeline_job, timeline_slider], outputs=timeline_parts, **private)
    library.pick.change(lora_timeline, inputs=[library.pick], outputs=timeline_parts, **private)
    backend.input(lambda name: _backend_html(ctx, name), inputs=[backend], outputs=[backend_state], **private)
    tab.select(
        refresh_characters, inputs=[shared.where], outputs=[character], show_progress="hidden", **private
    )

    def wire_next_step() -> None:
        @ui_action("training.next_step")
        def to_pictures(current, where):
            job = ctx.runner.get(current) if current else None
            char_id = job.params.get("character_id") if job else None
            return shared.go("image", char_id, where)

        make_pictures.click(
            to_pictures, inputs=[job_id, shared.where], outputs=shared.go_outputs("image"), **private
        )

    shared.later(wire_next_step)
    load_outputs = [character, readiness, library.pick, job_id, follow_key, model_state, *family_outputs]
    return [(on_load, [shared.where], load_outputs)]


# Asks once, when a person starts a training, whether the browser may tell them when it ends.
ASK_TO_NOTIFY = (
    "() => { try { if (window.Notification && Notification.permission === 'default') "
    "Notification.requestPermission(); } catch (e) {} }"
)
