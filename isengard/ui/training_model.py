"""The Training tab's base model and preset: what the chosen model is (licence, files), its presets, and the
settings a preset fills in — in the same answer as the model's, so nothing lands after the person began
typing; a preset already applied never refills what they typed. Models imported meanwhile join the list
when the tab opens."""

from __future__ import annotations

import html
from types import SimpleNamespace

import gradio as gr

from isengard.ui.actions import ui_action
from isengard.ui.model_views import licence_html, model_choice
from isengard.ui.training_form import EMBEDDED_GUIDANCE_ONLY, TEST_MODE_PRESETS, UNET_ONLY
from isengard.ui.training_views import status_html
from plugins.families import family_info


def wire(ctx, ui, params: dict, start_hints) -> SimpleNamespace:
    """Wire the model and preset events; returns `model_facts` and `family_fields` for the page load."""
    svc = ui.svc
    base, preset, preset_reason, applied_preset, model_state = ui.parts(
        "base preset preset_reason applied_preset model_state"
    )
    job_id, drawn, status, tab = ui.parts("job_id drawn status tab")
    names = list(params)

    def model_facts(model_id: str) -> str:
        model = ctx.catalogue.get(model_id)
        state = (
            "not needed in test mode (training is simulated)"
            if ctx.settings.fast_test
            else ctx.models.status(model)
        )
        trained = svc.training_model(model)
        note = f" LoRAs train on {html.escape(trained.label)}." if trained.id != model.id else ""
        return (
            f"{licence_html(model)}<br>"
            f'<span class="isg-muted">{html.escape(model.description)}{note} Model files: {html.escape(state)}.</span>'
        )

    def family_fields(model_id: str) -> dict:
        """Settings that do nothing for the chosen model's family are hidden."""
        info = family_info(ctx.catalogue.get(model_id).family)
        shown = {n: True for n in names}
        for n in UNET_ONLY:
            shown[n] = info.model_attr == "unet"
        for n in EMBEDDED_GUIDANCE_ONLY:
            shown[n] = info.guidance == "embedded"
        return {
            component: gr.update(visible=shown[n])
            for n, component in params.items()
            if n in (*UNET_ONLY, *EMBEDDED_GUIDANCE_ONLY)
        }

    def preset_fill(preset_id: str) -> dict:
        """The boxes filled with a preset's values, and that preset remembered as the one they hold."""
        values = svc.preset(preset_id).training_params()
        return {params[n]: getattr(values, n) for n in names} | {applied_preset: preset_id}

    @ui_action("training.choose_model", hints=start_hints)
    def choose_model(model_id, current, applied):
        model = ctx.catalogue.get(model_id)
        chosen, reason = svc.recommend(model_id)
        if ctx.settings.fast_test:
            reason = TEST_MODE_PRESETS
        choices = [(p.label, p.id) for p in svc.presets_for(model)]
        out = {
            model_state: model_facts(model_id),
            preset: gr.update(choices=choices, value=chosen.id),
            preset_reason: reason,
        }
        # another preset fills the boxes in this same answer (a second event would land after the person
        # began typing and undo it); the one already applied leaves what they typed
        filled = preset_fill(chosen.id) if chosen.id != applied else {}
        for component, shown in family_fields(model_id).items():  # a value and a visibility
            filled[component] = shown | {"value": filled[component]} if component in filled else shown
        out |= filled
        job = ctx.runner.get(current) if current else None
        if job is not None and job.status == "failed":  # an earlier job's problem is not this choice's
            out |= {job_id: "", drawn: "", status: status_html(ctx, None)}
        return out

    @ui_action("training.choose_preset")
    def choose_preset(preset_id, applied):
        # the person's own choice of preset (`.input`): another one fills the boxes
        if not preset_id or preset_id == applied:
            return gr.skip()
        return preset_fill(preset_id)

    @ui_action("training.models_refreshed", quiet=True)
    def refresh_models():
        """Models imported meanwhile (Settings, the command line) join the list; the choice stays."""
        ctx.models.refresh_custom()
        return gr.update(choices=[model_choice(m) for m in ctx.catalogue.all()])

    private = {"api_visibility": "private"}
    boxes = [params[n] for n in names]
    base.change(
        choose_model,
        inputs=[base, job_id, applied_preset],
        outputs=[model_state, preset, preset_reason, *boxes, applied_preset, job_id, drawn, status,
                 *start_hints.components],
        **private,
    )  # fmt: skip
    preset.input(choose_preset, inputs=[preset, applied_preset], outputs=[*boxes, applied_preset], **private)
    tab.select(refresh_models, outputs=[base], show_progress="hidden", **private)
    return SimpleNamespace(model_facts=model_facts, family_fields=family_fields)
