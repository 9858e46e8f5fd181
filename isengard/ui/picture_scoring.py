"""The Training tab's "Score pictures made elsewhere": drop pictures from ComfyUI, another trainer or a phone
and see how much each looks like the chosen person, with the same words as the likeness report — its band,
whether a face was found, which training photo it copies — and, for the set, collapse and the typical score."""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from isengard.errors import InputError
from isengard.evaluation.calibration import in_words
from isengard.ui.actions import ui_action
from isengard.ui.hints import FieldHints, hint_line
from isengard.ui.job_views import progress_html


def report_html(report: dict) -> str:
    rows = []
    for row in report["rows"]:
        name = html.escape(row["name"])
        if row.get("problem"):
            rows.append(f"<li>{name}: {html.escape(row['problem'])}</li>")
            continue
        words = in_words(row["likeness"]) if row["face"] else "no face found"
        copy = (
            f' — <span class="isg-warn">copies the training photo {html.escape(row["copies_photo"])}</span>'
            if row.get("copies_photo")
            else ""
        )
        rows.append(f"<li>{name}: {html.escape(words)}{copy}</li>")
    notes = "".join(
        f'<div class="isg-warn">⚠ The training photo {html.escape(n["photo"])} {html.escape(n["why"])}.</div>'
        for n in report.get("photo_notes", [])
    )
    return (
        f'<div id="score-report"><b>{html.escape(report["summary"])}</b><ul>{"".join(rows)}</ul>{notes}'
        f'<div class="isg-muted">{html.escape(report["scale"])}</div></div>'
    )


def build(ctx, shared) -> None:
    with gr.Accordion("Score pictures made elsewhere", open=False, elem_id="train-score-box"):
        gr.Markdown(
            "Drop pictures of this person made anywhere — ComfyUI, another trainer, a phone — to see how much "
            "each looks like them and whether any copies a training photo.",
            elem_id="train-score-help",
        )
        files = gr.File(
            label="Pictures (PNG, JPEG or WebP)",
            file_count="multiple",
            file_types=[".png", ".jpg", ".jpeg", ".webp"],
            elem_id="train-score-files",
            height=110,
        )
        score = gr.Button("Score these pictures", elem_id="train-score-start")
        hint = hint_line("train-score-hint")
        result = gr.HTML("", elem_id="train-score-result")
    hints = FieldHints({"pictures": hint}, default="pictures")

    @ui_action("likeness.score_pictures", hints=hints)
    def score_pictures(char_id, dropped):
        if not char_id:
            raise InputError("Choose the person first.", field="pictures")
        if not dropped:
            raise InputError("Drop one or more pictures first.", field="pictures")
        paths = [Path(f if isinstance(f, str) else f.name) for f in dropped]
        job_id = ctx.evaluation.submit_pictures(int(char_id), paths)
        for job, _ in ctx.runner.follow(job_id, poll=0.3):
            if not job.terminal:
                yield {result: progress_html(job, what="Scoring the pictures")}
        job = ctx.runner.get(job_id)
        if job.status != "succeeded":
            yield {result: progress_html(job, what="Scoring the pictures")}
            return
        yield {result: report_html(job.result)}

    def wire() -> None:  # the character dropdown belongs to the Training tab
        character = shared.arrivals["training"].outputs[0]
        score.click(
            score_pictures,
            inputs=[character, files],
            outputs=[result, *hints.components],
            api_visibility="private",
        )

    shared.later(wire)
