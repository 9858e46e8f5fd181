"""Settings: the Hugging Face token (pasted here or from HF_TOKEN), masked, checked against the hub."""

from __future__ import annotations

import gradio as gr

from isengard.models.tokens import mask
from isengard.ui.actions import ui_action

GATED_REPO = "black-forest-labs/FLUX.1-dev"


def _state(ctx) -> str:
    tokens = ctx.tokens
    return f"Current token: <code>{mask(tokens.get())}</code> (from {tokens.source})."


def render(ctx) -> None:
    with gr.Accordion(
        "Settings — Hugging Face token (needed for FLUX.1-dev)", open=False, elem_id="isg-settings"
    ):
        gr.Markdown(
            "FLUX.1-dev is free but gated: accept its licence at "
            "[huggingface.co/black-forest-labs/FLUX.1-dev](https://huggingface.co/black-forest-labs/FLUX.1-dev), "
            "create a **read** token at [huggingface.co/settings/tokens](https://huggingface.co/settings/tokens) "
            "and paste it here. It is stored in your data folder, readable only by you, and never logged."
        )
        current = gr.HTML(_state(ctx), elem_id="settings-token-state")
        with gr.Row():
            box = gr.Textbox(
                label="Token", type="password", placeholder="hf_…", elem_id="settings-token", scale=4
            )
            save = gr.Button("Save", elem_id="settings-token-save", scale=1)
            check = gr.Button("Check", elem_id="settings-token-check", scale=1)
            clear = gr.Button("Forget", elem_id="settings-token-clear", scale=1)
        verdict = gr.HTML("", elem_id="settings-token-verdict")

    @ui_action("settings.token_save")
    def do_save(token):
        shown = ctx.tokens.set(token)
        return _state(ctx), "", f"Saved {shown}. Press Check to test it."

    @ui_action("settings.token_check")
    def do_check():
        result = ctx.tokens.check(GATED_REPO)
        css = "isg-ok" if result.ok else "isg-bad"
        return f'<span class="{css}">{result.message}</span>'

    @ui_action("settings.token_clear")
    def do_clear():
        if ctx.tokens.env_token:
            gr.Warning("The token comes from HF_TOKEN in the environment; unset it there.")
        ctx.tokens.clear()
        return _state(ctx), "Stored token removed."

    private = {"api_visibility": "private"}
    save.click(do_save, inputs=[box], outputs=[current, box, verdict], **private)
    check.click(do_check, outputs=[verdict], **private)
    clear.click(do_clear, outputs=[current, verdict], **private)
