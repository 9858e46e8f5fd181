"""The LoRA library's Hugging Face parts: **Share on Hugging Face** (publish the chosen LoRA or one of its
checkpoints, private unless made public — which asks whether the person agreed) with the upload's progress
where the person is looking, and **bring a LoRA in from Hugging Face** by `owner/name` or its address
(several files: a list with sizes to pick from)."""

from __future__ import annotations

import html

import gradio as gr

from isengard.errors import InputError
from isengard.hub.importer import parse_source
from isengard.hub.publish import CONSENT
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints, hint_line
from isengard.ui.job_views import progress_html
from isengard.words import size_words
from plugins.families import FAMILY_LABELS

FINAL = "final"


def published_html(result: dict) -> str:
    where = "private — only you can see it" if result.get("private") else "public"
    return (
        f'<div class="isg-card" id="hub-published" data-status="succeeded">Published to '
        f'<a href="{html.escape(result["url"])}" target="_blank" rel="noopener">{html.escape(result["repo"])}</a> '
        f"({where}). Its page shows the model card and the samples.</div>"
    )


def publish_box(ctx):
    """Components of the publish part (inside the library's layout); returns a wiring function."""
    with gr.Accordion("Share on Hugging Face", open=False, elem_id="hub-publish-box"):
        gr.Markdown(
            "Publish this LoRA with its model card, samples and likeness report to a repository of your "
            "own on Hugging Face. It uses the token saved in Settings (one with write access).",
            elem_classes=["isg-muted"],
        )
        repo = gr.Textbox(
            label="Repository name",
            placeholder="ada-lora",
            elem_id="hub-repo",
            info="Under your Hugging Face account, e.g. ada-lora. Private unless you make it public.",
        )
        repo_hint = hint_line("hub-repo-hint")
        which = gr.Dropdown(label="File to publish", choices=[("The finished LoRA", FINAL)], value=FINAL,
                            elem_id="hub-file")  # fmt: skip
        public = gr.Checkbox(label="Make it public", value=False, elem_id="hub-public")
        consent = gr.Checkbox(label=CONSENT, value=False, visible=False, elem_id="hub-consent")
        consent_hint = hint_line("hub-consent-hint")
        go = gr.Button("Publish", variant="primary", elem_id="hub-publish")
        status = gr.HTML("", elem_id="hub-publish-status")
    hints = FieldHints({"repo": repo_hint, "consent": consent_hint, "checkpoint": repo_hint}, default="repo")

    @ui_action("hub.publish", hints=hints)
    def publish(lora_id, name, chosen, make_public, agreed):
        yield {status: ""}  # what an earlier publish said is not this one's answer
        if not lora_id:
            raise InputError("Pick a LoRA first.", field="repo")
        checkpoint = None if chosen in (None, FINAL) else ctx.loras.get(int(chosen)).step
        job_id = ctx.hub.submit(int(lora_id), name, public=bool(make_public), consent=bool(agreed),
                                checkpoint=checkpoint)  # fmt: skip
        for job, _ in ctx.runner.follow(job_id, poll=0.3):
            if not job.terminal:
                yield {status: progress_html(job, what="Publishing")}
        job = ctx.runner.get(job_id)
        yield {
            status: published_html(job.result)
            if job.status == "succeeded"
            else progress_html(job, what="Publishing")
        }

    @ui_action("hub.files", quiet=True)
    def files_of(lora_id):
        if not lora_id:
            return {which: gr.update(choices=[("The finished LoRA", FINAL)], value=FINAL), status: ""}
        record = ctx.loras.get(int(lora_id))
        kept = [(ctx.library.label(c), str(c.id)) for c in ctx.library.checkpoints(record)]
        published = record.metadata.get("published")
        return {
            which: gr.update(choices=[("The finished LoRA", FINAL), *kept], value=FINAL),
            status: published_html(published) if published else "",
        }

    def wire(pick) -> None:
        private = {"api_visibility": "private"}
        public.change(lambda on: gr.update(visible=bool(on)), inputs=[public], outputs=[consent], **private)
        pick.change(files_of, inputs=[pick], outputs=[which, status], show_progress="hidden", **private)
        go.click(publish, inputs=[pick, repo, which, public, consent], outputs=[status, *hints.components],
                 **private)  # fmt: skip

    return wire


def import_box(ctx, choices):
    """Components of 'bring one in from Hugging Face'; returns a wiring function. `choices(char_id, keep)`
    redraws the library's list."""
    source = gr.Textbox(
        label="…or from Hugging Face",
        placeholder="owner/name or its huggingface.co address",
        elem_id="hub-import-repo",
    )
    pick_file = gr.Dropdown(label="Which file", choices=[], visible=False, elem_id="hub-import-file",
                            info="This repository holds several LoRA files: pick one, then Bring it in.")  # fmt: skip
    bring = gr.Button("Bring it in from Hugging Face", elem_id="hub-import")
    hint = hint_line("hub-import-hint")
    hints = FieldHints({"hub_repo": hint, "hub_file": hint}, default="hub_repo")

    def wire(pick, character) -> None:
        private = {"api_visibility": "private"}

        @ui_action("hub.import", hints=hints)
        def bring_in(text, chosen, char_id):
            parsed = parse_source(text)
            if parsed is None:
                raise InputError(
                    "Give a Hub repository as owner/name, like ostris/some-lora.", field="hub_repo"
                )
            repo, file = parsed
            if file is None and not chosen:
                files = ctx.hub_import.files(repo)
                if len(files) > 1:
                    listed = [(f"{name} ({size_words(size)})", name) for name, size in files]
                    return {
                        pick_file: gr.update(choices=listed, value=None, visible=True),
                        **hints.show(
                            f"{repo} holds {len(files)} LoRA files: pick one, then Bring it in.", "hub_file"
                        ),
                    }
            record = ctx.hub_import.bring_in(repo, file or chosen or None)
            family = FAMILY_LABELS.get(record.family, record.family)
            gr.Info(f"Added {record.name} ({family}) from Hugging Face. Image Gen lists it under LoRA.")
            return {
                source: "",
                pick_file: gr.update(choices=[], value=None, visible=False),
                pick: choices(None, record.id),
            }

        bring.click(bring_in, inputs=[source, pick_file, character],
                    outputs=[source, pick_file, pick, *hints.components], **private)  # fmt: skip

    return wire
