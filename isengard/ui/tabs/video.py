"""The Video tab: visible, clearly marked "In Development", and nothing in it can run."""

from __future__ import annotations

import gradio as gr


def render(ctx, shared) -> None:
    with gr.Tab("Video", id="video", elem_id="tab-video"):
        gr.HTML(
            '<div class="isg-banner" id="video-banner"><b>In Development</b> — video generation is not '
            "available yet. This tab shows what is coming; nothing here runs.</div>"
        )
        gr.Textbox(label="Prompt", placeholder="Coming soon", interactive=False)
        gr.Slider(label="Length (seconds)", minimum=1, maximum=10, value=3, interactive=False)
        gr.Button("Generate video", interactive=False, variant="secondary")
