"""The studio: header, the four tabs, the jobs panel. `create_blocks(ctx)` builds it; nothing runs at import."""

from __future__ import annotations

import os
from pathlib import Path

UI_DIR = Path(__file__).parent


def head_html() -> str:
    return f"<script>{(UI_DIR / 'client_hook.js').read_text(encoding='utf-8')}</script>"


def css() -> str:
    return (UI_DIR / "style.css").read_text(encoding="utf-8")


def create_blocks(ctx):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from isengard.ui import api, header
    from isengard.ui.shared import TABS, Shared, browser_state, remember_tab
    from isengard.ui.tabs import characters, image_gen, training, video

    shared = Shared()
    with gr.Blocks(title="Isengard", analytics_enabled=False, fill_width=True) as blocks:
        api.register(ctx)  # first: the public endpoints keep their names (the tabs' private events get "_1")
        shared.where = browser_state(ctx)
        header.render(ctx, shared)
        load_hooks = []
        with gr.Tabs(elem_id="isg-tabs", overflow_behavior="wrap") as tabs:
            shared.tabs = tabs
            for tab in (characters, training, image_gen, video):
                load_hooks += tab.render(ctx, shared) or []
        shared.wire_later()
        for fn, inputs, outputs in load_hooks:  # fresh data for every page (re)load
            blocks.load(fn, inputs=inputs, outputs=outputs, api_visibility="private", show_progress="hidden")

        def return_to(where):  # a reload opens the tab the person was on (the first tab needs nothing)
            tab = (where or {}).get("tab")
            return gr.Tabs(selected=tab) if tab in TABS and tab != TABS[0] else gr.skip()

        blocks.load(return_to, inputs=[shared.where], outputs=[tabs], api_visibility="private")

        tabs.select(remember_tab, inputs=[shared.where], outputs=[shared.where], api_visibility="private")
    return blocks
