"""Image Gen's gallery of every picture made: a grid of thumbnails, newest first, filtered by person and
favourites; click one for Reuse, Download, Favourite and Delete; "Download these as a zip"."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

import gradio as gr

from isengard.errors import InputError
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints, hint_line

EVERYONE = 0
NOTHING_PICKED = "Click a picture to reuse its settings, download, favourite or delete it."
# the zip is made on the server; this presses "Save the zip" for the person once it holds the new file
SAVE_ZIP = "() => { const b = document.querySelector('#gen-zip-file button, button#gen-zip-file'); if (b) b.click(); }"
# what the button does, never what the picture is (a state on an action button read backwards)
ADD, REMOVE = "☆ Add to favourites", "★ Remove from favourites"


@dataclass
class PictureGallery:
    grid: gr.Gallery
    paths: gr.State  # the path of each picture in the grid, in order
    picked: gr.State  # the picked picture's path
    person: gr.Dropdown
    favourites: gr.Checkbox
    reuse: gr.Button
    hints: FieldHints
    refresh: object  # (person, favourites) -> component updates of the grid
    outputs: list  # what `refresh` updates


def _caption(picture) -> str:
    star = "★ " if picture.favourite else ""
    return f"{star}{picture.prompt[:80]}"


def build(ctx) -> PictureGallery:
    gallery = ctx.gallery
    with gr.Accordion("Your pictures", open=True, elem_id="gen-history-box"):
        with gr.Row(equal_height=True):
            person = gr.Dropdown(
                label="Show pictures of",
                choices=[("Everyone", EVERYONE)],
                value=EVERYONE,
                elem_id="gen-filter-person",
                scale=2,
            )
            favourites = gr.Checkbox(
                label="Only favourites", value=False, elem_id="gen-filter-favourites", scale=1
            )
            zip_btn = gr.Button("Download these as a zip", elem_id="gen-zip", scale=1)
            zip_file = gr.DownloadButton("Save the zip", visible=False, elem_id="gen-zip-file", scale=1)
        grid = gr.Gallery(
            label="Newest first",
            columns=6,
            height="auto",
            object_fit="cover",
            allow_preview=False,
            elem_id="gen-pictures",
        )
        paths = gr.State([])
        picked = gr.State(None)
        chosen_text = gr.HTML(f'<div class="isg-muted" id="gen-picked">{NOTHING_PICKED}</div>')
        with gr.Row(elem_classes=["isg-pair-row"]):
            reuse = gr.Button("Reuse its settings", elem_id="gen-reuse", interactive=False, min_width=90)
            download = gr.DownloadButton("Download", elem_id="gen-download", interactive=False, min_width=90)
            star = gr.Button(ADD, elem_id="gen-favourite", interactive=False, min_width=90)
            delete = gr.Button(
                "Delete", variant="stop", elem_id="gen-delete", interactive=False, min_width=80
            )
        line = hint_line("gen-reuse-hint")
    hints = FieldHints({"reuse": line}, default="reuse")

    def nothing_picked() -> dict:
        return {
            picked: None,
            chosen_text: f'<div class="isg-muted" id="gen-picked">{NOTHING_PICKED}</div>',
            reuse: gr.update(interactive=False),
            download: gr.update(value=None, interactive=False),
            star: gr.update(value=ADD, interactive=False),
            delete: gr.update(interactive=False),
        }

    def refresh(person_id, only_favourites) -> dict:
        shown = gallery.pictures(character_id=person_id or None, favourites=bool(only_favourites))
        people = [("Everyone", EVERYONE)] + [(c.name, c.id) for c in ctx.characters.list()]
        return {
            grid: [(str(p.path), _caption(p)) for p in shown],
            paths: [str(p.path) for p in shown],
            person: gr.update(choices=people),
            zip_file: gr.update(visible=False),
        } | nothing_picked()

    def show(path) -> dict:
        picture = next((p for p in gallery.pictures(limit=2000) if str(p.path) == path), None)
        if picture is None:
            return nothing_picked()
        when = time.strftime("%-d %b %Y, %H:%M", time.localtime(picture.created_at))
        return {
            picked: str(picture.path),
            chosen_text: (
                f'<div id="gen-picked"><b>{html.escape(picture.prompt)}</b>'
                f'<div class="isg-muted">seed {picture.seed} · {when}</div></div>'
            ),
            reuse: gr.update(interactive=True),
            download: gr.update(value=str(picture.path), interactive=True),
            star: gr.update(value=REMOVE if picture.favourite else ADD, interactive=True),
            delete: gr.update(interactive=True),
        }

    @ui_action("gallery.filter")
    def do_filter(person_id, only_favourites):
        return refresh(person_id, only_favourites)

    @ui_action("gallery.pick")
    def do_pick(shown, evt: gr.SelectData):
        if evt.index is None or evt.index >= len(shown):
            return gr.skip()
        return show(shown[evt.index])

    def need(path) -> str:
        if not path:
            raise InputError("Click a picture first.")
        return path

    @ui_action("gallery.favourite", hints=hints)
    def do_star(path, person_id, only_favourites):
        picture = next(p for p in gallery.pictures(limit=2000) if str(p.path) == need(path))
        gallery.set_favourite(picture.path, not picture.favourite)
        gr.Info("Added to your favourites." if not picture.favourite else "Removed from your favourites.")
        return refresh(person_id, only_favourites) | show(str(picture.path))

    @ui_action("gallery.delete", hints=hints)
    def do_delete(path, person_id, only_favourites):
        gallery.delete(need(path))
        gr.Info("Picture deleted.")
        return refresh(person_id, only_favourites)

    @ui_action("gallery.zip", hints=hints)
    def do_zip(person_id, only_favourites):
        shown = gallery.pictures(character_id=person_id or None, favourites=bool(only_favourites))
        target = gallery.zip(shown, ctx.paths.scratch("zips"))
        gr.Info(f"{len(shown)} picture{'s' if len(shown) != 1 else ''} in the zip: saving it.")
        return {zip_file: gr.update(value=str(target), visible=True)}

    private = {"api_visibility": "private"}
    grid_outputs = [grid, paths, person, zip_file, picked, chosen_text, reuse, download, star, delete]
    for trigger in (person.input, favourites.input):
        trigger(do_filter, inputs=[person, favourites], outputs=grid_outputs, **private)
    grid.select(
        do_pick, inputs=[paths], outputs=[picked, chosen_text, reuse, download, star, delete], **private
    )
    star.click(
        do_star, inputs=[picked, person, favourites], outputs=[*grid_outputs, *hints.components], **private
    )
    delete.click(
        do_delete, inputs=[picked, person, favourites], outputs=[*grid_outputs, *hints.components], **private
    )
    zip_btn.click(
        do_zip, inputs=[person, favourites], outputs=[zip_file, *hints.components], **private
    ).success(None, js=SAVE_ZIP, **private)  # one click: the zip is made, then saved (no second button press)
    return PictureGallery(grid, paths, picked, person, favourites, reuse, hints, refresh, grid_outputs)
