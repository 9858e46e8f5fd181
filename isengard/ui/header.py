"""The header: the studio's name, what state it is in (in words), what it is doing right now, Settings.

The normal view says what things mean ("Test mode: pictures are placeholders"); the technical facts —
why this mode, the device, where the data lives — sit behind the badge's popover and in Settings.
"""

from __future__ import annotations

import html
import time

import gradio as gr

from isengard.capabilities import capability_matrix
from isengard.ui import activity
from isengard.ui.actions import ui_action

TICK_SECONDS = 1.0
NOTIFY_WINDOW_S = 600  # trainings that ended this recently are offered to the page's notifier


def mode_words(ctx) -> tuple[str, str]:
    """(badge text, one sentence) for the mode a person sees; the text before ':' is the phone's badge."""
    device = ctx.device
    if ctx.settings.fast_test:
        return (
            "Test mode: pictures are placeholders",
            "Nothing here needs a graphics card: training is simulated and pictures are stand-ins, "
            "so you can try every step quickly.",
        )
    if device.kind == "cuda":
        if device.count > 1:
            memory = f", {device.vram_gb:.0f} GB each" if device.vram_gb else ""
            return (
                f"Ready: {device.count} × {device.name}{memory}",
                f"Real models run on these {device.count} graphics cards, one job on each at a time.",
            )
        memory = f", {device.vram_gb:.0f} GB" if device.vram_gb else ""
        return f"Ready: {device.name}{memory}", "Real models run on this graphics card."
    if device.kind == "mps":
        return "Ready: Apple graphics", "Real models run on this Mac's graphics chip."
    return (
        "Ready: this computer (slow)",
        "There is no graphics card, so real models run on the processor: it works, but slowly.",
    )


def header_html(ctx) -> str:
    s = ctx.settings
    badge, sentence = mode_words(ctx)
    mode_class = "mode-fast" if s.fast_test else "mode-prod"
    facts = (
        f"<li>{html.escape(sentence)}</li>"
        f"<li>Why this mode: {html.escape(s.mode_reason)}</li>"
        f"<li>Processor: {html.escape(ctx.device.label)}</li>"
    )
    return f"""
<div class="isg-header">
  <div class="isg-title"><span class="isg-logo">◆</span> Isengard
    <span class="isg-sub">personal AI image studio</span></div>
  <details class="isg-popover" id="isg-mode-box">
    <summary id="isg-mode" class="isg-badge {mode_class}" title="{
        html.escape(badge)
    }"><span class="isg-long">{html.escape(badge)}</span><span class="isg-short">{
        html.escape(badge.split(":")[0])
    }</span></summary>
    <ul class="isg-popover-body">{facts}</ul>
  </details>
</div>"""


def capability_rows(ctx) -> list[list[str]]:
    return [
        [row["area"], row["label"], row["status_label"], row["live"], row["note"]]
        for row in capability_matrix(ctx.registry)
    ]


def plugin_rows(ctx) -> list[list[str]]:
    return [
        [p["kind"], p["label"], p["version"], "yes" if p["available"] else "no", p["reason"]]
        for p in ctx.registry.describe()
    ]


def finished_html(ctx) -> str:
    """Trainings that ended lately, as data for the page's notifier (client_hook.js); shows nothing."""
    now = time.time()
    spans = []
    for job in ctx.runner.list(limit=10, kinds=("train",)):
        if not job.terminal or not job.finished_at or now - job.finished_at > NOTIFY_WINDOW_S:
            continue
        what = activity.describe(ctx, job).text.split(" · ")[0].replace("Training ", "", 1)
        if job.status == "succeeded":
            text = f"{what}'s likeness is ready: make pictures in Image Gen."
        elif job.status == "cancelled":
            text = f"The training of {what} was stopped; you can resume it."
        else:
            text = f"The training of {what} stopped before the end; open Isengard to see why."
        spans.append(
            f'<span data-job="{html.escape(job.id)}" data-status="{job.status}" data-text="{html.escape(text)}"></span>'
        )
    return f'<div id="isg-finished-list">{"".join(spans)}</div>'


def render(ctx, shared) -> None:
    from isengard.ui import jobs_panel, models_panel, settings_panel, workers_panel

    with gr.Row(elem_id="isg-header-row", equal_height=True):
        gr.HTML(header_html(ctx), elem_id="isg-header", padding=False)
        busy = gr.Button("", visible=False, elem_id="isg-activity", size="sm", scale=0, min_width=120)
        open_settings = gr.Button(
            "⚙ Settings", elem_id="isg-settings-open", size="sm", scale=0, min_width=100
        )
    finished = gr.HTML(finished_html(ctx), elem_id="isg-finished", visible="hidden", padding=False)
    with gr.Column(visible=False, elem_id="isg-settings-area") as area:
        with gr.Row():
            gr.Markdown("### Settings")
            close = gr.Button("Close settings", elem_id="isg-settings-close", size="sm", scale=0)
        gr.Markdown(
            f"**Your data** (photos, LoRAs and pictures) is saved in `{ctx.paths.data}` "
            f"— {ctx.settings.data_dir_reason}.",
            elem_id="isg-data",
        )
        settings_panel.render(ctx)
        look_for_models, model_outputs = models_panel.render(ctx)
        jobs_panel.render(ctx)
        workers_panel.render(ctx)
        with gr.Accordion("System status — what works on this machine", open=False, elem_id="isg-system"):
            gr.Markdown(
                "What Isengard can do, what it deliberately does not, and whether each part can run right now."
            )
            gr.Dataframe(
                value=capability_rows(ctx),
                headers=["Area", "Capability", "Status", "Right now", "Notes"],
                interactive=False,
                wrap=True,
                elem_id="isg-capabilities",
            )
            gr.Dataframe(
                value=plugin_rows(ctx),
                headers=["Kind", "Plugin", "Version", "Available", "Why"],
                interactive=False,
                wrap=True,
                elem_id="isg-plugins",
            )
    timer = gr.Timer(TICK_SECONDS)
    current = gr.State(None)  # the job the activity line shows: where its click leads

    @ui_action("header.activity", quiet=True)
    def tick():
        text, shown = activity.line(ctx)
        target = {"tab": shown.tab, "character": shown.character_id} if shown else None
        return gr.update(value=text, visible=bool(text)), target, finished_html(ctx)

    @ui_action("header.activity_open")
    def open_activity(target, where):
        if not target:
            return gr.skip()
        return shared.go(target["tab"], target["character"], where, follow=True)

    private = {"api_visibility": "private"}
    timer.tick(
        tick, outputs=[busy, current, finished], show_progress="hidden", concurrency_limit=None, **private
    )
    open_settings.click(lambda: gr.update(visible=True), outputs=[area], **private).then(
        look_for_models, outputs=model_outputs, show_progress="hidden", **private
    )
    close.click(lambda: gr.update(visible=False), outputs=[area], **private)

    def wire() -> None:
        outputs = [shared.tabs, shared.where]
        for tab in ("training", "image", "characters"):
            outputs += [c for c in shared.arrivals[tab].outputs if all(c is not o for o in outputs)]
        busy.click(open_activity, inputs=[current, shared.where], outputs=outputs, **private)

    shared.later(wire)
