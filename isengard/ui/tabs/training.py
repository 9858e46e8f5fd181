"""The Training tab (filled in by the training service)."""

from __future__ import annotations

import gradio as gr


def render(ctx) -> None:
    with gr.Tab("Training", id="training", elem_id="tab-training"):
        gr.Markdown("Pick a character and train its LoRA.")
