"""The Characters tab: create a person, drop in photos, see which are good and why, edit captions."""

from __future__ import annotations

import html

import gradio as gr

from isengard.characters.naming import CLASS_WORDS
from isengard.ui.actions import ui_action
from isengard.ui.character_views import (
    avatar,
    photo_detail,
    readiness_card,
    remove_upload_copies,
    upload_result,
)
from isengard.ui.follow import follow, progress_html

CAPTIONER_HELP = (
    "Template: the same simple caption for every photo (instant). BLIP: a model describes each photo."
)


def render(ctx) -> list:
    svc = ctx.characters
    captioners = [(p.label or p.name, p.name) for p in ctx.registry.of_kind("captioning")]
    existing = svc.list()

    with gr.Tab("Characters", id="characters", elem_id="tab-characters"):
        card_ids = gr.State([c.id for c in existing])
        photo_ids = gr.State([])
        last_suggestion = gr.State("")
        photo_pick = gr.Number(value=None, visible=False, elem_id="char-photo-id")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                cards = gr.Gallery(
                    label="Your characters — click one to open it",
                    columns=3,
                    height="auto",
                    object_fit="cover",
                    allow_preview=False,
                    elem_id="char-cards",
                    value=[_card(c) for c in existing],
                )
                pick = gr.Dropdown(
                    label="Character",
                    choices=[(c.name, c.id) for c in existing],
                    value=existing[0].id if existing else None,
                    elem_id="char-pick",
                    info="The person you are working on.",
                )
                with gr.Accordion("New character", open=not existing, elem_id="char-new"):
                    new_name = gr.Textbox(label="Name", elem_id="char-new-name", info="Any name you like.")
                    new_trigger = gr.Textbox(
                        label="Trigger word",
                        elem_id="char-new-trigger",
                        info="A made-up word the LoRA learns to mean this person. Use it in prompts later.",
                    )
                    new_class = gr.Dropdown(
                        label="Subject",
                        choices=list(CLASS_WORDS),
                        value="person",
                        allow_custom_value=True,
                        elem_id="char-new-class",
                        info="What the photos show: helps the captions and the training.",
                    )
                    create = gr.Button("Create character", variant="primary", elem_id="char-create")
            with gr.Column(scale=8):
                title = gr.HTML("", elem_id="char-title")
                readiness = gr.HTML(readiness_card(None), elem_id="char-readiness")
                upload = gr.File(
                    label="Add photos (drag and drop several at once: JPEG, PNG or WebP)",
                    file_count="multiple",
                    file_types=["image"],
                    elem_id="char-upload",
                    height=120,
                )
                upload_info = gr.HTML("", elem_id="char-upload-result")
                job_status = gr.HTML("", elem_id="char-job")
                photos = gr.Gallery(
                    label="Photos — click one to see its checks and edit its caption",
                    columns=5,
                    height=360,
                    allow_preview=False,
                    elem_id="char-photos",
                )
                with gr.Row():
                    check_btn = gr.Button("Check photos", elem_id="char-check")
                    crop_btn = gr.Button("Auto-crop to faces", elem_id="char-crop")
                    captioner = gr.Dropdown(
                        label="Captioner",
                        choices=captioners,
                        value="template",
                        elem_id="char-captioner",
                        info=CAPTIONER_HELP,
                        scale=2,
                    )
                    caption_btn = gr.Button("Caption all", elem_id="char-caption-all")
                with gr.Group(elem_id="char-photo-box"):
                    detail = gr.HTML(photo_detail(None, None), elem_id="char-detail")
                    caption = gr.Textbox(
                        label="Caption",
                        lines=2,
                        elem_id="char-caption",
                        info="What the photo shows. It must contain the trigger word.",
                    )
                    with gr.Row():
                        save_caption = gr.Button("Save caption", elem_id="char-save-caption")
                        use_crop = gr.Checkbox(
                            label="Train on the cropped version",
                            elem_id="char-use-crop",
                            info="Uses the auto-cropped picture; the original is kept.",
                        )
                        remove_photo = gr.Button("Remove photo", variant="stop", elem_id="char-remove-photo")
                with gr.Accordion("Edit character", open=False, elem_id="char-edit"):
                    with gr.Row():
                        rename_box = gr.Textbox(label="New name", elem_id="char-rename")
                        rename_btn = gr.Button("Rename", elem_id="char-rename-btn")
                    with gr.Row():
                        trigger_box = gr.Textbox(
                            label="New trigger word",
                            elem_id="char-trigger",
                            info="Captions using the old word are updated. LoRAs already trained keep the old word.",
                        )
                        trigger_btn = gr.Button("Change trigger word", elem_id="char-trigger-btn")
                with gr.Accordion("Delete character", open=False, elem_id="char-delete-box"):
                    with_loras = gr.Checkbox(
                        label="Also delete this character's trained LoRAs",
                        value=False,
                        elem_id="char-with-loras",
                        info="Off: the LoRA files are kept so you can still generate with them.",
                    )
                    delete_btn = gr.Button("Delete…", variant="stop", elem_id="char-delete")
                    with gr.Group(visible=False, elem_id="char-confirm") as confirm_box:
                        confirm_text = gr.HTML("", elem_id="char-confirm-text")
                        with gr.Row():
                            confirm_btn = gr.Button("Yes, delete", variant="stop", elem_id="char-confirm-yes")
                            cancel_btn = gr.Button("Keep it", elem_id="char-confirm-no")

    panel_outputs = [title, readiness, photos, photo_ids, detail, caption, use_crop, photo_pick]
    list_outputs = [cards, card_ids, pick]

    def panel(char_id) -> dict:
        if not char_id:
            return {
                title: "",
                readiness: readiness_card(None),
                photos: [],
                photo_ids: [],
                detail: photo_detail(None, None),
                caption: "",
                use_crop: False,
                photo_pick: None,
            }
        character = svc.get(int(char_id))
        state, reports = svc.report(character.id)
        items = svc.photos(character.id)
        return {
            title: (
                f'<h3 id="char-name">{html.escape(character.name)}</h3><div>Trigger word '
                f'<code id="char-trigger-word">{html.escape(character.trigger_word)}</code> · '
                f"a {html.escape(character.class_word)}</div>"
            ),
            readiness: readiness_card(state, character.name),
            photos: [(str(p.training_path), f"#{p.id} {reports[p.id].short_badge()}") for p in items],
            photo_ids: [p.id for p in items],
            detail: photo_detail(None, None),
            caption: "",
            use_crop: False,
            photo_pick: None,
        }

    def lists(selected=None) -> dict:
        characters = svc.list()
        return {
            cards: [_card(c) for c in characters],
            card_ids: [c.id for c in characters],
            pick: gr.update(choices=[(c.name, c.id) for c in characters], value=selected),
        }

    def run_job(job_id, char_id):
        for job, _ in follow(ctx.runner, job_id):
            yield {job_status: progress_html(job)}
        yield panel(char_id) | {job_status: progress_html(ctx.runner.get(job_id))}

    @ui_action("characters.suggest_trigger", quiet=True)
    def suggest(name, current, last):
        """Suggest a trigger word while the name is typed, unless the user wrote their own."""
        if (current or "") not in ("", last or ""):
            return gr.update(), last
        word = svc.suggest_trigger(name) if name and name.strip() else ""
        return word, word

    @ui_action("characters.create")
    def create_character(name, trigger, class_word):
        character = svc.create(name, trigger or None, class_word or "person")
        gr.Info(f"Created {character.name}. Now add 10–30 photos of them.")
        return lists(character.id) | {new_name: "", new_trigger: ""}

    @ui_action("characters.select")
    def select_card(ids, evt: gr.SelectData):
        return ids[evt.index] if evt.index is not None and evt.index < len(ids) else gr.update()

    @ui_action("characters.open")
    def open_character(char_id):
        return panel(char_id) | {upload_info: "", job_status: ""}

    @ui_action("characters.add_photos")
    def add_photos(char_id, files):
        if not char_id:
            raise gr.Error("Create or pick a character first.")
        paths = [(f if isinstance(f, str) else f.name) for f in (files or [])]
        if not paths:
            return
        originals = [p.rsplit("/", 1)[-1] for p in paths]
        try:
            result = svc.add_photos(
                int(char_id), list(zip([_path(p) for p in paths], originals, strict=True))
            )
        finally:
            remove_upload_copies(ctx.paths, paths)
        info = upload_result(result.summary(), result.rejected, result.duplicates)
        yield panel(char_id) | lists(int(char_id)) | {upload_info: info, upload: None}
        if result.added:
            for update in run_job(svc.submit_checks(int(char_id), only_new=True), char_id):
                yield update | {upload_info: info}
            yield lists(int(char_id))

    @ui_action("characters.check")
    def check(char_id):
        if not char_id:
            raise gr.Error("Pick a character first.")
        yield from run_job(svc.submit_checks(int(char_id)), char_id)

    @ui_action("characters.caption_all")
    def caption_all(char_id, captioner_name):
        if not char_id:
            raise gr.Error("Pick a character first.")
        yield from run_job(svc.submit_captions(int(char_id), captioner=captioner_name), char_id)

    @ui_action("characters.autocrop")
    def autocrop(char_id):
        if not char_id:
            raise gr.Error("Pick a character first.")
        yield from run_job(svc.submit_autocrop(int(char_id)), char_id)

    @ui_action("characters.select_photo")
    def select_photo(char_id, ids, evt: gr.SelectData):
        if evt.index is None or evt.index >= len(ids):
            return gr.update(), gr.update(), gr.update(), gr.update()
        photo = svc.photo(ids[evt.index])
        _, reports = svc.report(int(char_id))
        return photo.id, photo_detail(photo, reports.get(photo.id)), photo.caption, photo.use_crop

    @ui_action("characters.save_caption")
    def save(char_id, photo_id, text):
        if not photo_id:
            raise gr.Error("Click a photo first.")
        photo, note = svc.set_caption(int(photo_id), text)
        if note:
            gr.Warning(note)
        else:
            gr.Info("Caption saved.")
        return panel(char_id) | {
            caption: photo.caption,
            photo_pick: photo.id,
            detail: photo_detail(photo, svc.report(int(char_id))[1].get(photo.id)),
        }

    @ui_action("characters.use_crop")
    def toggle_crop(char_id, photo_id, use):
        if not photo_id:
            return gr.update()
        photo = svc.photo(int(photo_id))
        if bool(use) == photo.use_crop:
            return gr.update()
        photo = svc.set_use_crop(int(photo_id), bool(use))
        return photo_detail(photo, svc.report(int(char_id))[1].get(photo.id))

    @ui_action("characters.remove_photo")
    def remove(char_id, photo_id):
        if not photo_id:
            raise gr.Error("Click a photo first.")
        svc.remove_photo(int(photo_id))
        gr.Info("Photo removed.")
        return panel(char_id) | lists(int(char_id))

    @ui_action("characters.rename")
    def rename(char_id, new):
        if not char_id:
            raise gr.Error("Pick a character first.")
        character = svc.rename(int(char_id), new)
        return panel(character.id) | lists(character.id) | {rename_box: ""}

    @ui_action("characters.set_trigger")
    def set_trigger(char_id, word):
        if not char_id:
            raise gr.Error("Pick a character first.")
        character = svc.set_trigger(int(char_id), word)
        gr.Info(f"Trigger word is now '{character.trigger_word}'; captions were updated.")
        return panel(character.id) | {trigger_box: ""}

    @ui_action("characters.delete_plan")
    def ask_delete(char_id, loras_too):
        if not char_id:
            raise gr.Error("Pick a character first.")
        plan = svc.delete_plan(int(char_id))
        name = html.escape(plan["character"]["name"])
        lora_line = (
            f"<li><b>{len(plan['loras'])} trained LoRA file(s)</b> will be deleted too.</li>"
            if loras_too
            else f"<li>Its {len(plan['loras'])} trained LoRA file(s) are <b>kept</b>.</li>"
        )
        text = (
            f'<div class="isg-card"><b>Delete {name}?</b><ul><li>{plan["photos"]} photo(s) '
            f"({plan['photo_bytes'] / 1e6:.1f} MB) and their captions and checks will be removed.</li>"
            f"{lora_line}</ul>This cannot be undone.</div>"
        )
        return gr.update(visible=True), text

    @ui_action("characters.delete")
    def do_delete(char_id, loras_too):
        if not char_id:
            raise gr.Error("Pick a character first.")
        result = svc.delete(int(char_id), with_loras=bool(loras_too))
        gr.Info(f"Deleted {result['character']['name']}.")
        remaining = svc.list()
        selected = remaining[0].id if remaining else None
        return lists(selected) | panel(selected) | {confirm_box: gr.update(visible=False)}

    private = {"api_visibility": "private"}
    new_name.change(
        suggest,
        inputs=[new_name, new_trigger, last_suggestion],
        outputs=[new_trigger, last_suggestion],
        show_progress="hidden",
        **private,
    )
    create.click(
        create_character,
        inputs=[new_name, new_trigger, new_class],
        outputs=[*list_outputs, new_name, new_trigger],
        **private,
    )
    cards.select(select_card, inputs=[card_ids], outputs=[pick], **private)
    pick.change(open_character, inputs=[pick], outputs=[*panel_outputs, upload_info, job_status], **private)
    upload.upload(
        add_photos,
        inputs=[pick, upload],
        outputs=[*panel_outputs, *list_outputs, upload_info, upload, job_status],
        **private,
    )
    check_btn.click(check, inputs=[pick], outputs=[*panel_outputs, job_status], **private)
    caption_btn.click(caption_all, inputs=[pick, captioner], outputs=[*panel_outputs, job_status], **private)
    crop_btn.click(autocrop, inputs=[pick], outputs=[*panel_outputs, job_status], **private)
    photos.select(
        select_photo, inputs=[pick, photo_ids], outputs=[photo_pick, detail, caption, use_crop], **private
    )
    save_caption.click(save, inputs=[pick, photo_pick, caption], outputs=panel_outputs, **private)
    use_crop.input(toggle_crop, inputs=[pick, photo_pick, use_crop], outputs=[detail], **private)
    remove_photo.click(remove, inputs=[pick, photo_pick], outputs=[*panel_outputs, *list_outputs], **private)
    rename_btn.click(
        rename, inputs=[pick, rename_box], outputs=[*panel_outputs, *list_outputs, rename_box], **private
    )
    trigger_btn.click(
        set_trigger, inputs=[pick, trigger_box], outputs=[*panel_outputs, trigger_box], **private
    )
    delete_btn.click(ask_delete, inputs=[pick, with_loras], outputs=[confirm_box, confirm_text], **private)
    cancel_btn.click(lambda: gr.update(visible=False), outputs=[confirm_box], **private)
    confirm_btn.click(
        do_delete, inputs=[pick, with_loras], outputs=[*list_outputs, *panel_outputs, confirm_box], **private
    )

    @ui_action("characters.page_load")
    def on_load():
        characters = svc.list()
        selected = characters[0].id if characters else None
        return lists(selected) | panel(selected)

    return [(on_load, [], [*list_outputs, *panel_outputs])]


def _card(character):
    label = f"{character.name} · {character.photo_count} photo(s)"
    if character.cover and character.cover.exists():
        return (str(character.cover), label)
    return (avatar(character.name), label)


def _path(value: str):
    from pathlib import Path

    return Path(value)
