"""The Characters tab's layout: the welcome, the new-character form, the person's photos with their
checks and suggestions, the photo box, editing and deleting. Its components are handed to the tab's
handlers."""

from __future__ import annotations

import gradio as gr

from isengard.characters.captions import default_captioner
from isengard.characters.naming import CLASS_WORDS
from isengard.ui import photo_review
from isengard.ui.character_views import (
    character_card,
    photo_detail,
    readiness_card,
)
from isengard.ui.hints import hint_line
from isengard.ui.shared import Parts

WELCOME = """
<div class="isg-welcome" id="char-welcome">
  <h2>Welcome to Isengard</h2>
  <p>Make pictures of a real person in three steps. Each step tells you when it is done.</p>
  <ol class="isg-steps">
    <li><b>Add a person</b> and 10–30 photos of them.</li>
    <li><b>Train their likeness</b>: Isengard learns their face (a LoRA).</li>
    <li><b>Make pictures</b> of them in any setting you describe.</li>
  </ol>
</div>"""

CAPTIONER_HELP = (
    "Template: one simple caption for all (instant). Florence-2 or BLIP: a model describes each photo, "
    "but not the face."
)


def build(ctx, shared) -> Parts:
    svc = ctx.characters
    captioners = [(p.label or p.name, p.name) for p in ctx.registry.of_kind("captioning")]
    existing = svc.list()

    with gr.Tab("Characters", id="characters", elem_id="tab-characters"):
        with gr.Group(visible=not existing, elem_id="char-welcome-box") as welcome_box:
            gr.HTML(WELCOME, padding=False)
            start_btn = gr.Button("Add your first person", variant="primary", elem_id="char-start")
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
                    value=[character_card(c) for c in existing],
                    visible=bool(existing),
                )
                pick = gr.Dropdown(
                    label="Character",
                    choices=[(c.name, c.id) for c in existing],
                    value=existing[0].id if existing else None,
                    elem_id="char-pick",
                    info="The person you are working on.",
                    visible=bool(existing),
                )
                with gr.Accordion("New character", open=not existing, elem_id="char-new") as new_box:
                    new_name = gr.Textbox(label="Name", elem_id="char-new-name", info="Any name you like.")
                    name_hint = hint_line("char-new-name-hint")
                    new_trigger = gr.Textbox(
                        label="Trigger word",
                        elem_id="char-new-trigger",
                        info="A made-up word the LoRA learns to mean this person. Filled in for you; "
                        "change it if you like.",
                    )
                    trigger_hint = hint_line("char-new-trigger-hint")
                    new_class = gr.Dropdown(
                        label="Subject",
                        choices=list(CLASS_WORDS),
                        value="person",
                        allow_custom_value=True,
                        elem_id="char-new-class",
                        info="What the photos show: helps the captions and the training.",
                    )
                    class_hint = hint_line("char-new-class-hint")
                    create = gr.Button("Create character", variant="primary", elem_id="char-create")
                    create_hint = hint_line("char-create-hint")
            with gr.Column(scale=8):
                title = gr.HTML("", elem_id="char-title")
                readiness = gr.HTML(readiness_card(None), elem_id="char-readiness")
                next_step = gr.Button("Train", variant="primary", visible=False, elem_id="char-next")
                upload = gr.File(
                    label="Add photos (drag and drop several at once: JPEG, PNG or WebP)",
                    file_count="multiple",  # any file: each gets its line in the summary (a filter would
                    elem_id="char-upload",  # drop a non-picture with a red box and no word in the summary)
                    height=120,
                    interactive=False,
                )
                upload_hint = hint_line("char-upload-hint")
                upload_info = gr.HTML("", elem_id="char-upload-result")
                job_status = gr.HTML("", elem_id="char-job")
                photos = gr.Gallery(
                    label="Photos — click one to see its checks and edit its caption",
                    columns=5,
                    height="auto",
                    allow_preview=False,
                    elem_id="char-photos",
                    visible=False,
                )
                with gr.Group(elem_id="char-photo-box", visible=False) as photo_box:
                    detail = gr.HTML(photo_detail(None, None), elem_id="char-detail")
                    with gr.Row(elem_classes=["isg-keep-row"]):
                        original_view = gr.Image(
                            label="Original",
                            interactive=False,
                            height=220,
                            buttons=[],
                            elem_id="char-original",
                        )
                        crop_view = gr.Image(
                            label="Cropped to the face",
                            interactive=False,
                            height=220,
                            buttons=[],
                            visible=False,
                            elem_id="char-crop-view",
                        )
                    caption = gr.Textbox(
                        label="Caption",
                        lines=2,
                        elem_id="char-caption",
                        info="What the photo shows. It must contain the trigger word.",
                        interactive=False,
                    )
                    caption_hint = hint_line("char-caption-hint")
                    with gr.Row():
                        save_caption = gr.Button(
                            "Save caption", elem_id="char-save-caption", interactive=False
                        )
                        use_crop = gr.Checkbox(
                            label="Train on the cropped version",
                            elem_id="char-use-crop",
                            info="Uses the auto-cropped picture; the original is kept.",
                            interactive=False,
                        )
                        remove_photo = gr.Button(
                            "Remove photo", variant="stop", elem_id="char-remove-photo", interactive=False
                        )
                review = photo_review.build_selection()
                removal: dict = {}  # filled once the panel exists: what "Remove these" does
                photo_review.build_select_box(review)
                photo_review.suggestions(ctx, review, pick, lambda button, ids: removal["wire"](button, ids))
                with gr.Row():
                    check_btn = gr.Button("Check photos", elem_id="char-check", interactive=False)
                    crop_btn = gr.Button("Auto-crop to faces", elem_id="char-crop", interactive=False)
                    captioner = gr.Dropdown(
                        label="Captioner",
                        choices=captioners,
                        value=default_captioner(ctx.registry),
                        elem_id="char-captioner",
                        info=CAPTIONER_HELP,
                        scale=2,
                    )
                    caption_btn = gr.Button("Caption all", elem_id="char-caption-all", interactive=False)
                actions_hint = hint_line("char-actions-hint")
                caption_fallback = gr.Button(
                    "Caption with the simple template instead", visible=False, elem_id="char-caption-fallback"
                )
                photo_review.captions_view(ctx, review, pick)
                with gr.Accordion(
                    "Edit character", open=False, elem_id="char-edit", visible=bool(existing)
                ) as edit_box:
                    with gr.Row():
                        rename_box = gr.Textbox(label="New name", elem_id="char-rename")
                        rename_btn = gr.Button("Rename", elem_id="char-rename-btn")
                    rename_hint = hint_line("char-rename-hint")
                    with gr.Row():
                        trigger_box = gr.Textbox(
                            label="New trigger word",
                            elem_id="char-trigger",
                            info="Captions using the old word are updated. LoRAs already trained keep the old word.",
                        )
                        trigger_btn = gr.Button("Change trigger word", elem_id="char-trigger-btn")
                    trigger_edit_hint = hint_line("char-trigger-hint")
                with gr.Accordion(
                    "Delete character", open=False, elem_id="char-delete-box", visible=bool(existing)
                ) as delete_box:
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
    return Parts(
        svc=svc,
        captioners=captioners,
        existing=existing,
        welcome_box=welcome_box,
        start_btn=start_btn,
        card_ids=card_ids,
        photo_ids=photo_ids,
        last_suggestion=last_suggestion,
        photo_pick=photo_pick,
        cards=cards,
        pick=pick,
        new_box=new_box,
        new_name=new_name,
        name_hint=name_hint,
        new_trigger=new_trigger,
        trigger_hint=trigger_hint,
        new_class=new_class,
        class_hint=class_hint,
        create=create,
        create_hint=create_hint,
        title=title,
        readiness=readiness,
        next_step=next_step,
        upload=upload,
        upload_hint=upload_hint,
        upload_info=upload_info,
        job_status=job_status,
        photos=photos,
        review=review,
        removal=removal,
        check_btn=check_btn,
        crop_btn=crop_btn,
        captioner=captioner,
        caption_btn=caption_btn,
        actions_hint=actions_hint,
        caption_fallback=caption_fallback,
        photo_box=photo_box,
        detail=detail,
        original_view=original_view,
        crop_view=crop_view,
        caption=caption,
        caption_hint=caption_hint,
        save_caption=save_caption,
        use_crop=use_crop,
        remove_photo=remove_photo,
        edit_box=edit_box,
        rename_box=rename_box,
        rename_btn=rename_btn,
        rename_hint=rename_hint,
        trigger_box=trigger_box,
        trigger_btn=trigger_btn,
        trigger_edit_hint=trigger_edit_hint,
        delete_box=delete_box,
        with_loras=with_loras,
        delete_btn=delete_btn,
        confirm_box=confirm_box,
        confirm_text=confirm_text,
        confirm_btn=confirm_btn,
        cancel_btn=cancel_btn,
    )
