"""Editing a character from the Characters tab: rename, a new trigger word (captions follow), and delete —
which first says exactly what goes."""

from __future__ import annotations

import html

import gradio as gr

from isengard.errors import InputError
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints
from isengard.words import count


def wire(ctx, shared, ui, panel, panel_outputs: list, lists, list_outputs: list) -> None:
    svc = ctx.characters
    (
        pick, rename_box, rename_btn, trigger_box, trigger_btn, with_loras, delete_btn, confirm_box,
        confirm_text, confirm_btn, cancel_btn,
    ) = ui.parts(
        "pick rename_box rename_btn trigger_box trigger_btn with_loras delete_btn confirm_box "
        "confirm_text confirm_btn cancel_btn"
    )  # fmt: skip
    rename_hints = FieldHints({"name": ui.rename_hint}, default="name")
    trigger_hints = FieldHints({"trigger": ui.trigger_edit_hint}, default="trigger")

    def need_character(char_id) -> int:
        if not char_id:
            raise InputError("Create or pick a character first.")
        return int(char_id)

    @ui_action("characters.rename", hints=rename_hints)
    def rename(char_id, new):
        character = svc.rename(need_character(char_id), new)
        return panel(character.id) | lists(character.id) | {rename_box: ""}

    @ui_action("characters.set_trigger", hints=trigger_hints)
    def set_trigger(char_id, word):
        character = svc.set_trigger(need_character(char_id), word)
        gr.Info(f"Trigger word is now '{character.trigger_word}'; captions were updated.")
        return panel(character.id) | {trigger_box: ""}

    @ui_action("characters.delete_plan")
    def ask_delete(char_id, loras_too):
        plan = svc.delete_plan(need_character(char_id))
        name = html.escape(plan["character"]["name"])
        loras = count(len(plan["loras"]), "trained LoRA file")
        lora_line = (
            f"<li><b>{loras}</b> will be deleted too.</li>"
            if loras_too
            else f"<li>{'Its ' + loras + ' are' if len(plan['loras']) != 1 else 'Its ' + loras + ' is'} <b>kept</b>.</li>"
        )
        text = (
            f'<div class="isg-card"><b>Delete {name}?</b><ul><li>{count(plan["photos"], "photo")} '
            f"({plan['photo_bytes'] / 1e6:.1f} MB) and their captions and checks will be removed.</li>"
            f"{lora_line}</ul>This cannot be undone.</div>"
        )
        return gr.update(visible=True), text

    @ui_action("characters.delete")
    def do_delete(char_id, loras_too, where):
        result = svc.delete(need_character(char_id), with_loras=bool(loras_too))
        gr.Info(f"Deleted {result['character']['name']}.")
        remaining = svc.list()
        selected = remaining[0].id if remaining else None
        return (
            lists(selected)
            | panel(selected)
            | {
                confirm_box: gr.update(visible=False),
                shared.where: dict(where or {}) | {"character": selected},
            }
        )

    private = {"api_visibility": "private"}
    rename_btn.click(
        rename,
        inputs=[pick, rename_box],
        outputs=[*panel_outputs, *list_outputs, rename_box, *rename_hints.components],
        **private,
    )
    trigger_btn.click(
        set_trigger,
        inputs=[pick, trigger_box],
        outputs=[*panel_outputs, trigger_box, *trigger_hints.components],
        **private,
    )
    delete_btn.click(ask_delete, inputs=[pick, with_loras], outputs=[confirm_box, confirm_text], **private)
    cancel_btn.click(lambda: gr.update(visible=False), outputs=[confirm_box], **private)
    confirm_btn.click(
        do_delete,
        inputs=[pick, with_loras, shared.where],
        outputs=[*list_outputs, *panel_outputs, confirm_box, shared.where],
        **private,
    )
