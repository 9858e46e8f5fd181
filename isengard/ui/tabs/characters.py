"""The Characters tab: create a person, drop in photos, see which are good and why, edit captions."""

from __future__ import annotations

import html

import gradio as gr

from isengard.errors import InputError
from isengard.obs import event
from isengard.ui import character_edit, character_form, photo_review
from isengard.ui.actions import ui_action
from isengard.ui.character_views import (
    character_card,
    photo_detail,
    readiness_card,
    remove_upload_copies,
    ringed_thumbnail,
    upload_result,
)
from isengard.ui.follow import follow, progress_html
from isengard.ui.hints import FieldHints
from isengard.ui.shared import Arrival, remembered
from isengard.words import article, count


def render(ctx, shared) -> list:
    ui = character_form.build(ctx, shared)
    # fmt: off
    (
        svc, welcome_box, start_btn, card_ids, photo_ids, last_suggestion,
        photo_pick, cards, pick, new_box, new_name, name_hint, new_trigger, trigger_hint, new_class,
        class_hint, create, create_hint, title, readiness, next_step, upload, upload_hint, upload_info,
        job_status, photos, review, removal, check_btn, crop_btn, captioner, caption_btn, actions_hint,
        caption_fallback, photo_box, detail, original_view, crop_view, caption, caption_hint,
        save_caption, use_crop, remove_photo, edit_box, delete_box,
    ) = ui.parts(
        "svc welcome_box start_btn card_ids photo_ids last_suggestion "
        "photo_pick cards pick new_box new_name name_hint new_trigger trigger_hint new_class "
        "class_hint create create_hint title readiness next_step upload upload_hint upload_info "
        "job_status photos review removal check_btn crop_btn captioner caption_btn actions_hint "
        "caption_fallback photo_box detail original_view crop_view caption caption_hint "
        "save_caption use_crop remove_photo edit_box delete_box"
    )
    # fmt: on

    photo_controls = [caption, save_caption, use_crop, remove_photo]
    panel_outputs = [
        title,
        readiness,
        next_step,
        upload,
        photos,
        photo_ids,
        detail,
        caption,
        use_crop,
        photo_pick,
        check_btn,
        crop_btn,
        caption_btn,
        save_caption,
        remove_photo,
        edit_box,
        delete_box,
        photo_box,
        original_view,
        crop_view,
        review.selected,
        review.refresh,
        review.shown,
    ]
    list_outputs = [cards, card_ids, pick, welcome_box, new_box]
    create_hints = FieldHints(
        {"name": name_hint, "trigger": trigger_hint, "class_word": class_hint, "create": create_hint},
        default="create",
    )
    upload_hints = FieldHints({"upload": upload_hint}, default="upload")
    action_hints = FieldHints({"actions": actions_hint}, default="actions")
    caption_hints = FieldHints({"caption": caption_hint}, default="caption")

    def no_photo() -> dict:
        """Nothing picked in the photo grid: the photo's own controls wait for a click."""
        return {
            detail: photo_detail(None, None),
            caption: gr.update(value="", interactive=False),
            use_crop: gr.update(value=False, interactive=False),
            photo_pick: None,
            save_caption: gr.update(interactive=False),
            remove_photo: gr.update(interactive=False),
            original_view: gr.update(value=None, visible=False),
            crop_view: gr.update(value=None, visible=False),
        }

    def panel(char_id) -> dict:
        if not char_id:
            return {
                title: "",
                readiness: readiness_card(None),
                next_step: gr.update(visible=False),
                upload: gr.update(interactive=False, label="Add photos (create a character first)"),
                photos: gr.update(value=[], visible=False),
                photo_box: gr.update(visible=False),
                photo_ids: [],
                check_btn: gr.update(interactive=False),
                crop_btn: gr.update(interactive=False),
                caption_btn: gr.update(interactive=False),
                edit_box: gr.update(visible=False),
                delete_box: gr.update(visible=False),
                review.shown: None,
                review.refresh: "",  # no one chosen: the suggestions and the captions list are emptied
            } | no_photo()
        character = svc.get(int(char_id))
        state, reports = svc.report(character.id)
        items = svc.photos(character.id)
        can_train = bool(items) and state.status != "not_ready" and not state.unchecked_count
        return {
            title: (
                f'<h3 id="char-name">{html.escape(character.name)}</h3><div>Trigger word '
                f'<code id="char-trigger-word">{html.escape(character.trigger_word)}</code> · '
                f"{article(character.class_word)} {html.escape(character.class_word)}</div>"
            ),
            readiness: readiness_card(state, character.name),
            next_step: gr.update(
                value=f"Next: train {character.name}'s likeness →", visible=can_train, interactive=True
            ),
            upload: gr.update(
                interactive=True,
                label=f"Add photos of {character.name} (drag and drop several at once: JPEG, PNG or WebP)",
            ),
            photos: gr.update(
                value=[
                    (
                        str(ringed_thumbnail(p, reports.get(p.id), ctx.paths.scratch("thumbnails"))),
                        reports[p.id].badges(),
                    )
                    for p in items
                ],
                visible=bool(items),
            ),
            photo_box: gr.update(visible=bool(items)),
            photo_ids: [p.id for p in items],
            check_btn: gr.update(interactive=bool(items)),
            crop_btn: gr.update(interactive=bool(items)),
            caption_btn: gr.update(interactive=bool(items)),
            edit_box: gr.update(visible=True),
            delete_box: gr.update(visible=True),
            review.selected: photo_review.selection_choices(svc, character.id),
            review.shown: character.id,
            # the suggestions and the captions list are drawn again when what they show changes
            review.refresh: photo_review.fingerprint(items, state),
        } | no_photo()

    def lists(selected=None) -> dict:
        characters = svc.list()
        return {
            cards: gr.update(value=[character_card(c) for c in characters], visible=bool(characters)),
            card_ids: [c.id for c in characters],
            pick: gr.update(
                choices=[(c.name, c.id) for c in characters], value=selected, visible=bool(characters)
            ),
            welcome_box: gr.update(visible=not characters),
            new_box: gr.update(open=not characters),
        }

    def photo_ids_of(char_id) -> list[int]:
        return [p.id for p in svc.photos(int(char_id))] if char_id else []

    def run_job(job_id, char_id):
        before = photo_ids_of(char_id)
        for job, _ in follow(ctx.runner, job_id):
            yield {job_status: progress_html(job)}
        redrawn = panel(char_id) | {job_status: progress_html(ctx.runner.get(job_id))}
        if photo_ids_of(char_id) == before:  # a check, crop or caption job: the person's selection stays
            redrawn.pop(review.selected, None)
        yield redrawn

    def arrive(char_id, **_):
        characters = svc.list()
        return lists(char_id if char_id in [c.id for c in characters] else None) | panel(char_id)

    shared.arrivals["characters"] = Arrival([*list_outputs, *panel_outputs], arrive)

    @ui_action("characters.suggest_trigger", quiet=True)
    def suggest(name, current, last):
        """Suggest a trigger word while the name is typed, unless the user wrote their own."""
        if (current or "") not in ("", last or ""):
            return gr.update(), last
        word = svc.suggest_trigger(name) if name and name.strip() else ""
        return word, word

    @ui_action("characters.create", hints=create_hints)
    def create_character(name, trigger, class_word, where):
        character = svc.create(name, trigger or None, class_word or "person")
        gr.Info(f"Created {character.name}. Now add 10–30 photos of them.")
        return (
            lists(character.id)
            | panel(character.id)
            | {new_name: "", new_trigger: "", shared.where: dict(where or {}) | {"character": character.id}}
        )

    @ui_action("characters.start")
    def start_here():
        return gr.update(open=True)

    @ui_action("characters.select")
    def select_card(ids, evt: gr.SelectData):
        return ids[evt.index] if evt.index is not None and evt.index < len(ids) else gr.update()

    @ui_action("characters.open")
    def open_character(char_id, where, shown):
        place = dict(where or {}) | {"character": int(char_id) if char_id else None}
        kept = bool(char_id) and shown == int(char_id)
        event(
            "characters.opened", "kept on screen" if kept else "drawn afresh", character=char_id, shown=shown
        )
        if kept:
            # the same person again (the list was redrawn after an upload or a reload, or the choice came
            # twice, sometimes late): what the upload and its checks said, and the photos selected, stay
            again = panel(char_id) | {shared.where: place}
            again.pop(review.selected, None)  # the upload's own redraw brought the new photos' choices
            return again
        return panel(char_id) | {upload_info: "", job_status: "", shared.where: place}

    @ui_action("characters.add_photos", hints=upload_hints)
    def add_photos(char_id, files):
        paths = [(f if isinstance(f, str) else f.name) for f in (files or [])]
        if not char_id:
            remove_upload_copies(ctx.paths, paths)
            raise InputError("Create or pick a character first, then add their photos.", field="upload")
        if not paths:
            yield {}
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

    def need_character(char_id) -> int:
        if not char_id:
            raise InputError("Create or pick a character first.")
        return int(char_id)

    @ui_action("characters.check", hints=action_hints)
    def check(char_id):
        yield from run_job(svc.submit_checks(need_character(char_id)), char_id)

    @ui_action("characters.caption_all", hints=action_hints)
    def caption_all(char_id, captioner_name):
        job = svc.submit_captions(need_character(char_id), captioner=captioner_name)
        yield {caption_fallback: gr.update(visible=False)}
        yield from run_job(job, char_id)
        failed = ctx.runner.get(job).status == "failed" and captioner_name != "template"
        yield {caption_fallback: gr.update(visible=failed)}  # e.g. the model could not be downloaded

    @ui_action("characters.caption_template", hints=action_hints)
    def caption_with_template(char_id):
        yield {captioner: "template", caption_fallback: gr.update(visible=False)}
        yield from run_job(svc.submit_captions(need_character(char_id), captioner="template"), char_id)

    @ui_action("characters.autocrop", hints=action_hints)
    def autocrop(char_id):
        job_id = svc.submit_autocrop(need_character(char_id))
        yield from run_job(job_id, char_id)
        job = ctx.runner.get(job_id)
        if job.status != "succeeded" or not job.result:
            return
        done, left = job.result["cropped"], job.result["skipped"]
        text = f"Cropped {count(done, 'photo')} to the face"
        text += (
            f"; {count(left, 'photo')} without a face {'was' if left == 1 else 'were'} left as {'it is' if left == 1 else 'they are'}."
            if left
            else "."
        )
        switched = job.result.get("switched") or []
        shown, html_text = photo_review.undo_offer(text)
        yield {
            review.undo_box: shown if switched else gr.update(visible=False),
            review.undo_text: html_text,
            review.undo_token: {"kind": "crop", "ids": switched} if switched else None,
            job_status: f'<div class="isg-ok" id="char-crop-result">{html.escape(text)}</div>',
        }

    @ui_action("characters.select_photo")
    def select_photo(char_id, ids, evt: gr.SelectData):
        if evt.index is None or evt.index >= len(ids):
            return gr.skip()
        photo = svc.photo(ids[evt.index])
        _, reports = svc.report(int(char_id))
        return {
            photo_pick: photo.id,
            detail: photo_detail(photo, reports.get(photo.id)),
            caption: gr.update(value=photo.caption, interactive=True),
            use_crop: gr.update(value=photo.use_crop, interactive=True),
            save_caption: gr.update(interactive=True),
            remove_photo: gr.update(interactive=True),
            caption_hint: gr.update(value="", visible=False),
            original_view: gr.update(value=str(photo.path), visible=True),
            crop_view: gr.update(
                value=str(photo.crop_path) if photo.crop_path and photo.crop_path.exists() else None,
                visible=bool(photo.crop_path and photo.crop_path.exists()),
            ),
        }

    @ui_action("characters.save_caption", hints=caption_hints)
    def save(char_id, photo_id, text):
        if not photo_id:
            raise InputError("Click a photo first.", field="caption")
        photo, note = svc.set_caption(int(photo_id), text)
        if note:
            gr.Warning(note)
        else:
            gr.Info("Caption saved.")
        return panel(char_id) | {
            caption: gr.update(value=photo.caption, interactive=True),
            photo_pick: photo.id,
            save_caption: gr.update(interactive=True),
            remove_photo: gr.update(interactive=True),
            use_crop: gr.update(value=photo.use_crop, interactive=True),
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

    @ui_action("characters.remove_photo", hints=caption_hints)
    def remove(char_id, photo_id, refresh):
        if not photo_id:
            raise InputError("Click a photo first.", field="caption")
        return removal["removed"](char_id, [int(photo_id)], refresh)

    private = {"api_visibility": "private"}
    new_name.change(
        suggest,
        inputs=[new_name, new_trigger, last_suggestion],
        outputs=[new_trigger, last_suggestion],
        show_progress="hidden",
        **private,
    )
    start_btn.click(start_here, outputs=[new_box], **private).then(
        None, js="() => document.querySelector('#char-new-name textarea, #char-new-name input')?.focus()"
    )
    create.click(
        create_character,
        inputs=[new_name, new_trigger, new_class, shared.where],
        outputs=[
            *list_outputs,
            *panel_outputs,
            new_name,
            new_trigger,
            shared.where,
            *create_hints.components,
        ],
        **private,
    )
    cards.select(select_card, inputs=[card_ids], outputs=[pick], **private)
    pick.change(
        open_character,
        inputs=[pick, shared.where, review.shown],
        outputs=[*panel_outputs, upload_info, job_status, shared.where],
        show_progress="hidden",
        **private,
    )
    upload.upload(
        add_photos,
        inputs=[pick, upload],
        outputs=[*panel_outputs, *list_outputs, upload_info, upload, job_status, *upload_hints.components],
        **private,
    )
    job_outputs = [*panel_outputs, job_status, *action_hints.components]
    check_btn.click(check, inputs=[pick], outputs=job_outputs, **private)
    caption_btn.click(
        caption_all, inputs=[pick, captioner], outputs=[*job_outputs, caption_fallback], **private
    )
    caption_fallback.click(
        caption_with_template, inputs=[pick], outputs=[*job_outputs, caption_fallback, captioner], **private
    )
    crop_btn.click(
        autocrop,
        inputs=[pick],
        outputs=[*job_outputs, review.undo_box, review.undo_text, review.undo_token],
        **private,
    )
    photos.select(
        select_photo,
        inputs=[pick, photo_ids],
        outputs=[photo_pick, detail, *photo_controls, caption_hint, original_view, crop_view],
        **private,
    )
    save_caption.click(
        save,
        inputs=[pick, photo_pick, caption],
        outputs=[*panel_outputs, *caption_hints.components],
        **private,
    )
    use_crop.input(toggle_crop, inputs=[pick, photo_pick, use_crop], outputs=[detail], **private)
    review_wiring = photo_review.wire(
        ctx, review, pick, panel, panel_outputs, lists, list_outputs, caption_hints
    )
    removal["removed"] = review_wiring["removed"]

    def wire_remove_these(button, ids) -> None:
        @ui_action("characters.remove_suggested", hints=caption_hints)
        def remove_these(char_id, refresh):
            return removal["removed"](char_id, ids, refresh)

        button.click(remove_these, inputs=[pick, review.refresh], outputs=review_wiring["outputs"], **private)

    removal["wire"] = wire_remove_these
    remove_photo.click(
        remove, inputs=[pick, photo_pick, review.refresh], outputs=review_wiring["outputs"], **private
    )
    character_edit.wire(ctx, shared, ui, panel, panel_outputs, lists, list_outputs)

    def wire_next_step() -> None:
        @ui_action("characters.next_step")
        def to_training(char_id, where):
            return shared.go("training", int(char_id) if char_id else None, where)

        next_step.click(
            to_training, inputs=[pick, shared.where], outputs=shared.go_outputs("training"), **private
        )

    shared.later(wire_next_step)

    @ui_action("characters.page_load")
    def on_load(where):
        characters = svc.list()
        selected = remembered(where, [c.id for c in characters])
        return lists(selected) | panel(selected)

    return [(on_load, [shared.where], [*list_outputs, *panel_outputs])]


def _path(value: str):
    from pathlib import Path

    return Path(value)
