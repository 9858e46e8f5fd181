"""Working through many photos at once (the Characters tab): each suggestion names its photos with one
click to select or remove them; any selection can be removed; every removal and auto-crop can be undone;
and all captions can be edited in one list, each saved on its own row."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from isengard.errors import InputError
from isengard.obs import event
from isengard.ui.actions import ui_action
from isengard.words import count


@dataclass
class Review:
    selected: gr.CheckboxGroup
    remove_selected: gr.Button
    undo_box: gr.Row
    undo_text: gr.HTML
    undo: gr.Button
    undo_token: gr.State  # {"kind": "remove"|"crop", "token"|"ids": …}
    refresh: gr.State  # changes to redraw the suggestions and the captions list (`fingerprint`)
    # the character whose photos the selection lists, kept on the server: read when an event runs, not when
    # it was sent, so a late redraw of the same person knows the selection on screen is theirs
    shown: gr.State


def build_selection() -> Review:
    """The undo line and the state (call where the undo line belongs); `build_select_box` adds the
    "Select several photos" box later in the layout."""
    with gr.Row(
        visible=False, elem_id="char-undo-box", elem_classes=["isg-keep-row"], equal_height=True
    ) as undo_box:
        undo_text = gr.HTML("", elem_id="char-undo-text")
        undo = gr.Button("Undo", elem_id="char-undo", scale=0, min_width=90)
    return Review(None, None, undo_box, undo_text, undo, gr.State(None), gr.State(""), gr.State(None))


def build_select_box(review: Review) -> None:
    with gr.Accordion("Select several photos", open=False, elem_id="char-select-box"):
        review.selected = gr.CheckboxGroup(label="Selected photos", choices=[], elem_id="char-selected")
        review.remove_selected = gr.Button(
            "Remove the selected photos", variant="stop", elem_id="char-remove-selected"
        )


def fingerprint(items, state) -> str:
    """What the suggestions and the captions list depend on: they are drawn again only when it changes
    (a redraw replaces their buttons, and a click on a replaced one is lost)."""
    import hashlib

    parts = [(p.id, p.caption, p.use_crop, p.sha256) for p in items]
    parts.append([(s.code, s.photo_ids) for s in state.suggestions])
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def selection_choices(svc, char_id) -> dict:
    if not char_id:
        return gr.update(choices=[], value=[])
    return gr.update(choices=[(p.original_name, p.id) for p in svc.photos(int(char_id))], value=[])


def undo_offer(text: str) -> dict:
    return gr.update(visible=True), f'<div class="isg-ok">{html.escape(text)}</div>'


def wire(ctx, review: Review, pick, panel, panel_outputs: list, lists, list_outputs: list, hints) -> dict:
    """Events of the selection and undo; returns the updates a removal makes (for the single Remove)."""
    svc = ctx.characters
    outputs = [*panel_outputs, *list_outputs, review.selected, review.undo_box, review.undo_text]
    outputs += [review.undo_token, review.refresh, *hints.components]

    def removed(char_id, ids, refresh) -> dict:
        token = svc.remove_photos(ids)
        shown, text = undo_offer(f"Removed {count(len(ids), 'photo')}.")
        gr.Info(
            f"Removed {count(len(ids), 'photo')}. Press Undo to bring {'it' if len(ids) == 1 else 'them'} back."
        )
        return (
            panel(char_id)
            | lists(int(char_id))
            | {
                review.selected: selection_choices(svc, char_id),
                review.undo_box: shown,
                review.undo_text: text,
                review.undo_token: {"kind": "remove", "token": token},
            }
        )

    @ui_action("characters.remove_selected", hints=hints)
    def remove_selected(char_id, ids, refresh):
        if not char_id:
            raise InputError("Pick a character first.")
        if not ids:
            raise InputError("Tick the photos to remove first.")
        return removed(char_id, [int(i) for i in ids], refresh)

    @ui_action("characters.undo", hints=hints)
    def undo(char_id, offer, refresh):
        if not offer:
            raise InputError("There is nothing to undo.")
        if offer["kind"] == "remove":
            back = svc.undo_remove(offer["token"])
            gr.Info(f"Brought back {count(back, 'photo')}.")
        else:
            back = svc.undo_autocrop(offer["ids"])
            gr.Info(f"{count(back, 'photo')} train on the original again (the crops are kept).")
        return (
            panel(char_id)
            | lists(int(char_id))
            | {
                review.selected: selection_choices(svc, char_id),
                review.undo_box: gr.update(visible=False),
                review.undo_token: None,
            }
        )

    private = {"api_visibility": "private"}
    review.remove_selected.click(
        remove_selected, inputs=[pick, review.selected, review.refresh], outputs=outputs, **private
    )
    review.undo.click(undo, inputs=[pick, review.undo_token, review.refresh], outputs=outputs, **private)
    return {"outputs": outputs, "removed": removed}


def suggestions(ctx, review: Review, pick, remove_ids) -> None:
    """The readiness suggestions that name photos, each with "Select these" and "Remove these" (drawn
    again whenever the photos change)."""
    svc = ctx.characters

    # drawn when what they show changes — never on the choice of person alone: the panel of the person
    # chosen (with its selection reset) comes in the same answer as `refresh`, so a suggestion can never be
    # clicked before that answer lands and is undone by it
    @gr.render(inputs=[pick, review.refresh], triggers=[review.refresh.change])
    def draw(char_id, refresh):
        if not char_id:
            return
        event("characters.suggestions_drawn", "suggestions drawn", character=char_id, refresh=refresh)
        state, _ = svc.report(int(char_id))
        names = {p.id: p.original_name for p in svc.photos(int(char_id))}
        shown = [s for s in state.suggestions if s.removable and s.photo_ids]
        if not shown:
            return
        with gr.Column(elem_id="char-suggestions"):
            for item in shown:
                which = ", ".join(names.get(i, "?") for i in item.photo_ids)
                n = len(item.photo_ids)
                with gr.Row(elem_classes=["isg-keep-row", "isg-suggestion"], equal_height=True):
                    gr.HTML(
                        f'<div class="isg-suggestion-text" data-code="{item.code}">{html.escape(item.text)} '
                        f'<span class="isg-muted">({html.escape(which)})</span></div>',
                        key=f"text-{item.code}",
                    )
                    select = gr.Button(
                        f"Select {'it' if n == 1 else f'these {n}'}",
                        key=f"select-{item.code}",
                        elem_classes=["isg-suggest-select"],
                        scale=0,
                        min_width=120,
                    )
                    remove = gr.Button(
                        f"Remove {'it' if n == 1 else f'these {n}'}",
                        key=f"remove-{item.code}",
                        variant="stop",
                        elem_classes=["isg-suggest-remove"],
                        scale=0,
                        min_width=120,
                    )
                select.click(  # the choices come with the value: it must not land before them (a race)
                    _selecter(svc, char_id, item.photo_ids),
                    outputs=[review.selected],
                    api_visibility="private",
                )
                remove_ids(remove, item.photo_ids)


def _selecter(svc, char_id, ids):
    @ui_action("characters.select_suggested")
    def select():
        return selection_choices(svc, char_id) | {"value": ids}

    return select


def captions_view(ctx, review: Review, pick) -> None:
    """Every photo with its caption beside it, each saved on its own."""
    svc = ctx.characters
    with gr.Accordion("All captions", open=False, elem_id="char-captions-view"):

        @gr.render(inputs=[pick, review.refresh], triggers=[review.refresh.change])
        def draw(char_id, _refresh):
            if not char_id:
                gr.Markdown("Create or pick a character first.")
                return
            items = svc.photos(int(char_id))
            if not items:
                gr.Markdown("No photos yet.")
                return
            for photo in items:
                with gr.Row(equal_height=True, elem_classes=["isg-keep-row", "isg-caption-row"]):
                    gr.Image(
                        str(photo.training_path),
                        show_label=False,
                        height=72,
                        width=72,
                        interactive=False,
                        buttons=[],
                        container=False,
                        scale=0,
                        min_width=72,
                        key=f"cap-img-{photo.id}",
                    )
                    box = gr.Textbox(
                        photo.caption,
                        label=photo.original_name,
                        lines=1,
                        scale=4,
                        key=f"cap-text-{photo.id}",
                        elem_classes=["isg-caption-box"],
                        interactive=True,
                    )
                    save = gr.Button("Save", scale=0, min_width=70, key=f"cap-save-{photo.id}")
                    note = gr.HTML("", key=f"cap-note-{photo.id}", padding=False)

                @ui_action("characters.caption_row")
                def save_row(text, photo_id=photo.id):
                    try:
                        saved, warning = svc.set_caption(photo_id, text)
                    except InputError as exc:
                        return gr.skip(), f'<span class="isg-problem">{html.escape(str(exc))}</span>'
                    message = warning or "Saved."
                    return saved.caption, f'<span class="isg-ok">{html.escape(message)}</span>'

                save.click(save_row, inputs=[box], outputs=[box, note], api_visibility="private")
