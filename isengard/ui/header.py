"""The header: what is running (mode and why), on which device, where the data lives; system status."""

from __future__ import annotations

import html

import gradio as gr

from isengard.capabilities import capability_matrix


def header_html(ctx) -> str:
    s = ctx.settings
    device = ctx.device
    mode_class = "mode-fast" if s.fast_test else "mode-prod"
    mode_label = "Fast-test mode" if s.fast_test else "Production mode"
    mode_help = (
        "Placeholder images and simulated training — nothing needs a GPU or model downloads."
        if s.fast_test
        else "Real models: training and generation use the GPU."
    )
    return f"""
<div class="isg-header">
  <div class="isg-title"><span class="isg-logo">◆</span> Isengard
    <span class="isg-sub">personal AI image studio</span></div>
  <div class="isg-facts">
    <span id="isg-mode" class="isg-badge {mode_class}" title="{html.escape(mode_help)}">{mode_label}</span>
    <span class="isg-fact" title="Why this mode">{html.escape(s.mode_reason)}</span>
    <span class="isg-fact" id="isg-device" title="The processor that runs the models">Device:
      {html.escape(device.label)}</span>
    <span class="isg-fact" id="isg-data" title="Where photos, LoRAs and images are saved ({
        html.escape(s.data_dir_reason)
    })">Data: <code>{html.escape(str(ctx.paths.data))}</code></span>
  </div>
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


def render(ctx) -> None:
    from isengard.ui import settings_panel

    gr.HTML(header_html(ctx), elem_id="isg-header")
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
    settings_panel.render(ctx)
