"""The Characters tab (filled in by the characters service)."""

from __future__ import annotations

import gradio as gr


def render(ctx) -> None:
    with gr.Tab("Characters", id="characters", elem_id="tab-characters"):
        gr.Markdown("Create a character and add photos of one person.")
