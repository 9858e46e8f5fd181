"""The Training tab's LoRA library: a person's finished LoRAs by human name, what each is (trigger word,
base and its licence, steps, notes), its checkpoints folded under it, rename, notes, delete (saying what
goes), download with a model card, likeness, sharing on Hugging Face, and importing a LoRA file from elsewhere
or from Hugging Face (hub_panel.py)."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from isengard.errors import InputError
from isengard.ui import hub_panel
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints, hint_line
from isengard.ui.job_views import progress_html
from isengard.ui.likeness_views import lora_report, thumbnails_html
from plugins.families import FAMILY_LABELS

NO_LORA = '<div class="isg-muted" id="lib-card">No LoRA yet: train one above, or import a file below.</div>'


@dataclass
class Library:
    pick: gr.Dropdown
    card: gr.HTML


def choices(ctx, char_id, keep=None) -> dict:
    """The library's list for a character (all LoRAs when none): finished ones only, newest first."""
    library = ctx.library
    records = library.finished(int(char_id) if char_id else None)
    ids = [r.id for r in records]
    value = keep if keep in ids else (ids[0] if ids else None)
    return gr.update(choices=[(library.label(r), r.id) for r in records], value=value)


def card_html(ctx, lora_id) -> str:
    if not lora_id:
        return NO_LORA
    library = ctx.library
    record = ctx.loras.get(int(lora_id))
    model = ctx.catalogue.get(record.base_model) if record.base_model in ctx.catalogue.ids() else None
    licence = model.licence_note if model else "the base model's own licence"
    steps = library.steps(record)
    facts = [
        f"<li>Trigger word <code>{html.escape(record.trigger_word or '—')}</code> — put it in a prompt</li>",
        f"<li>For {html.escape(library.base_label(record))} · {html.escape(licence)}</li>",
        f"<li>{f'{steps:,} steps · ' if steps else ''}made "
        f"{time.strftime('%-d %b %Y, %H:%M', time.localtime(record.created_at))}</li>",
    ]
    checkpoints = library.checkpoints(record)
    if checkpoints:
        facts.append(
            f"<li>{len(checkpoints)} checkpoint{'s' if len(checkpoints) != 1 else ''} saved along the way "
            "(under “Checkpoints”)</li>"
        )
    notes = record.metadata.get("notes")
    note = f'<div class="isg-muted">Notes: {html.escape(notes)}</div>' if notes else ""
    return (
        f'<div class="isg-card" id="lib-card" data-lora="{record.id}"><b>{html.escape(library.label(record))}</b>'
        f"<ul>{''.join(facts)}</ul>{note}</div>"
    )


def build(ctx, shared) -> Library:
    """The library's components (inside the caller's layout) and their events."""
    library = ctx.library
    with gr.Accordion("Your LoRAs", open=True, elem_id="train-loras-box"):
        pick = gr.Dropdown(
            label="LoRA",
            choices=[],
            elem_id="train-pick-lora",
            info="Finished LoRAs of this character, newest first. Each also works in ComfyUI and A1111.",
        )
        card = gr.HTML(NO_LORA, elem_id="train-lora-card")
        with gr.Row():
            bundle = gr.DownloadButton(
                "Download with model card", elem_id="train-download-card", scale=2, interactive=False
            )
            download = gr.DownloadButton(
                "Download the file only", elem_id="train-download", scale=2, interactive=False
            )
            measure = gr.Button("Measure likeness", elem_id="train-measure", scale=1, interactive=False)
        lora_hint = hint_line("train-lora-hint")
        lora_likeness = gr.HTML("", elem_id="train-lora-likeness")
        lora_probes = gr.HTML("", elem_id="train-lora-probes")
        report_file = gr.DownloadButton(
            "Download the likeness report (JSON)", visible=False, elem_id="train-lora-report"
        )
        with gr.Accordion("Checkpoints", open=False, elem_id="train-checkpoints"):
            checkpoint = gr.Dropdown(
                label="Checkpoint",
                choices=[],
                elem_id="train-pick-checkpoint",
                info="Saved along the way; pick one to see its likeness or download it.",
            )
            checkpoint_file = gr.DownloadButton(
                "Download this checkpoint", elem_id="train-download-checkpoint"
            )
        with gr.Accordion("Rename, notes, delete", open=False, elem_id="train-lora-edit"):
            with gr.Row():
                title = gr.Textbox(label="Name", elem_id="train-lora-title", scale=3)
                rename = gr.Button("Rename", elem_id="train-lora-rename", scale=1)
            title_hint = hint_line("train-lora-title-hint")
            notes = gr.Textbox(
                label="Notes",
                lines=2,
                elem_id="train-lora-notes",
                info="Anything to remember: best strength…",
            )
            save_notes = gr.Button("Save notes", elem_id="train-lora-save-notes")
            notes_hint = hint_line("train-lora-notes-hint")
            delete = gr.Button("Delete this LoRA…", variant="stop", elem_id="train-lora-delete")
            with gr.Group(visible=False, elem_id="train-lora-confirm") as confirm:
                confirm_text = gr.HTML("", elem_id="train-lora-confirm-text")
                with gr.Row():
                    yes = gr.Button("Yes, delete", variant="stop", elem_id="train-lora-delete-yes")
                    keep = gr.Button("Keep it", elem_id="train-lora-delete-no")
        wire_publish = hub_panel.publish_box(ctx)
        upload = gr.File(
            label="Import a LoRA file (.safetensors) from elsewhere: any family, any trainer",
            file_types=[".safetensors"],
            elem_id="train-import-lora",
        )
        import_hint = hint_line("train-import-hint")
        wire_hub_import = hub_panel.import_box(ctx, lambda char_id, keep: choices(ctx, char_id, keep=keep))

    lora_hints = FieldHints({"lora": lora_hint}, default="lora")
    title_hints = FieldHints({"LoRA": title_hint}, default="LoRA")
    notes_hints = FieldHints({"notes": notes_hint}, default="notes")
    import_hints = FieldHints({"file": import_hint}, default="file")

    @ui_action("library.pick")
    def choose(lora_id):
        if not lora_id:
            return {
                card: NO_LORA,
                download: gr.update(value=None, interactive=False),  # nothing to download or measure
                bundle: gr.update(value=None, interactive=False),
                measure: gr.update(interactive=False),
                lora_likeness: "",
                lora_probes: "",
                report_file: gr.update(visible=False),
                checkpoint: gr.update(choices=[], value=None),
                title: "",
                notes: "",
                confirm: gr.update(visible=False),
            }
        record = ctx.loras.get(int(lora_id))
        text, pictures, report_path = lora_report(ctx, lora_id)
        folded = library.checkpoints(record)
        return {
            card: card_html(ctx, lora_id),
            download: gr.update(value=str(record.path), interactive=True),
            bundle: gr.update(
                value=str(library.bundle(record.id, ctx.paths.scratch("bundles"))), interactive=True
            ),
            measure: gr.update(interactive=True),
            lora_likeness: text,
            lora_probes: thumbnails_html(pictures),
            report_file: gr.update(value=report_path, visible=bool(report_path)),
            checkpoint: gr.update(choices=[(library.label(c), c.id) for c in folded], value=None),
            title: library.name_of(record),  # Rename starts from the name it has
            notes: record.metadata.get("notes") or "",
            confirm: gr.update(visible=False),
        }

    @ui_action("library.pick_checkpoint")
    def choose_checkpoint(checkpoint_id):
        if not checkpoint_id:
            return gr.skip()
        record = ctx.loras.get(int(checkpoint_id))
        text, pictures, report_path = lora_report(ctx, checkpoint_id)
        return {
            checkpoint_file: gr.update(value=str(record.path)),
            lora_likeness: text,
            lora_probes: thumbnails_html(pictures),
            report_file: gr.update(value=report_path, visible=bool(report_path)),
        }

    def need(lora_id) -> int:
        if not lora_id:
            raise InputError("Pick a LoRA first.")
        return int(lora_id)

    @ui_action("library.rename", hints=title_hints)
    def do_rename(lora_id, char_id, text):
        record = library.rename(need(lora_id), text)
        gr.Info(f"Renamed to {record.metadata['title']}.")
        return {pick: choices(ctx, char_id, keep=record.id), card: card_html(ctx, record.id)}

    @ui_action("library.notes", hints=notes_hints)
    def do_notes(lora_id, text):
        record = library.set_notes(need(lora_id), text)
        gr.Info("Notes saved.")
        return {card: card_html(ctx, record.id)}

    @ui_action("library.delete_plan", hints=lora_hints)
    def ask_delete(lora_id):
        plan = library.delete_plan(need(lora_id))
        text = f'<div class="isg-card"><b>Delete {html.escape(library.label(plan.record))}?</b><div>{html.escape(plan.sentence())}</div></div>'
        return {confirm: gr.update(visible=True), confirm_text: text}

    @ui_action("library.delete", hints=lora_hints)
    def do_delete(lora_id, char_id):
        plan = library.delete(need(lora_id))
        gr.Info(f"Deleted {library.label(plan.record)}.")
        return {pick: choices(ctx, char_id), confirm: gr.update(visible=False)}

    @ui_action("library.import", hints=import_hints)
    def do_import(file, char_id):
        if not file:
            return {}
        path = file if isinstance(file, str) else file.name
        record = ctx.loras.import_file(Path(path), Path(getattr(file, "orig_name", "") or path).stem)
        family = FAMILY_LABELS.get(record.family, record.family)
        gr.Info(f"Added {record.name} ({family}). Image Gen lists it under LoRA.")
        return {
            upload: None,
            pick: choices(ctx, None if not record.character_id else char_id, keep=record.id),
        }

    @ui_action("library.measure", hints=lora_hints)
    def measure_likeness(lora_id):
        record = ctx.loras.get(need(lora_id))
        if not record.character_id:
            raise InputError("This LoRA belongs to no character, so there is no one to compare it with.")
        measuring = ctx.evaluation.submit(record.character_id, lora=str(record.path))
        for job, _ in ctx.runner.follow(measuring, poll=0.3):
            if not job.terminal:
                note = job.progress.get("message") or "Measuring the likeness"
                yield {lora_likeness: f'<div class="isg-muted">{html.escape(note)}…</div>', lora_probes: ""}
        job = ctx.runner.get(measuring)
        if job.status != "succeeded":
            yield {lora_likeness: progress_html(job, what="Measuring the likeness"), lora_probes: ""}
            return
        text, pictures, report_path = lora_report(ctx, lora_id)
        yield {
            lora_likeness: text,
            lora_probes: thumbnails_html(pictures),
            report_file: gr.update(value=report_path, visible=bool(report_path)),
        }

    private = {"api_visibility": "private"}
    pick.change(
        choose,
        inputs=[pick],
        outputs=[
            card,
            download,
            bundle,
            measure,
            lora_likeness,
            lora_probes,
            report_file,
            checkpoint,
            title,
            notes,
            confirm,
        ],
        show_progress="hidden",
        **private,
    )
    checkpoint.change(
        choose_checkpoint,
        inputs=[checkpoint],
        outputs=[checkpoint_file, lora_likeness, lora_probes, report_file],
        **private,
    )

    def wire() -> None:  # the character dropdown belongs to the Training tab
        character = shared.arrivals["training"].outputs[0]
        rename.click(
            do_rename,
            inputs=[pick, character, title],
            outputs=[pick, card, *title_hints.components],
            **private,
        )
        delete.click(
            ask_delete, inputs=[pick], outputs=[confirm, confirm_text, *lora_hints.components], **private
        )
        yes.click(
            do_delete, inputs=[pick, character], outputs=[pick, confirm, *lora_hints.components], **private
        )
        upload.upload(
            do_import, inputs=[upload, character], outputs=[upload, pick, *import_hints.components], **private
        )
        wire_hub_import(pick, character)

    shared.later(wire)
    wire_publish(pick)
    save_notes.click(do_notes, inputs=[pick, notes], outputs=[card, *notes_hints.components], **private)
    keep.click(lambda: gr.update(visible=False), outputs=[confirm], **private)
    measure.click(
        measure_likeness,
        inputs=[pick],
        outputs=[lora_likeness, lora_probes, report_file, *lora_hints.components],
        **private,
    )
    return Library(pick=pick, card=card)
