"""The jobs panel: every job of this studio (and of the CLI), its progress, Cancel and Resume.

It reads job records from the database, so it shows jobs started in another browser or from the CLI.
"""

from __future__ import annotations

import time

import gradio as gr

from isengard.errors import InputError
from isengard.jobs import JobRecord
from isengard.ui.actions import ui_action

STATUS_ICON = {
    "queued": "⏳ queued",
    "running": "▶ running",
    "succeeded": "✔ done",
    "failed": "✖ failed",
    "cancelled": "■ cancelled",
    "interrupted": "⚠ interrupted",
}


def _progress_text(job: JobRecord) -> str:
    fraction = job.fraction
    if fraction is None:
        return "—"
    return f"{fraction * 100:.0f}%"


def job_rows(jobs: list[JobRecord]) -> list[list[str]]:
    return [
        [
            job.title,
            STATUS_ICON.get(job.status, job.status),
            _progress_text(job),
            time.strftime("%H:%M:%S", time.localtime(job.created_at)),
            job.id,
        ]
        for job in jobs
    ]


def job_detail(job: JobRecord | None) -> str:
    if job is None:
        return "Pick a job to see its details."
    lines = [f"**{job.title}** — {STATUS_ICON.get(job.status, job.status)}", "", job.summary()]
    if job.error:
        lines += ["", f"> {job.error}"]
    lines += ["", f"<small>Job `{job.id}` · reference `{job.correlation_id}`</small>"]
    return "\n".join(lines)


def render(ctx) -> None:
    runner = ctx.runner
    recent = runner.list(limit=15)
    with gr.Accordion("Jobs — everything running or finished", open=False, elem_id="isg-jobs"):
        table = gr.Dataframe(
            headers=["Job", "Status", "Progress", "Started", "ID"],
            value=job_rows(recent),
            interactive=False,
            wrap=True,
            elem_id="isg-jobs-table",
        )
        with gr.Row():
            pick = gr.Dropdown(
                label="Job",
                choices=[(f"{j.title} ({j.status})", j.id) for j in recent],
                value=None,
                elem_id="isg-job-pick",
                info="Choose a job to see its details, stop it, or continue it after a restart.",
                scale=4,
            )
            cancel = gr.Button("Stop job", variant="stop", elem_id="isg-job-cancel", scale=1)
            resume = gr.Button("Resume job", elem_id="isg-job-resume", scale=1)
        detail = gr.Markdown(job_detail(None), elem_id="isg-job-detail")
        timer = gr.Timer(2.0)

    def _choices(jobs: list[JobRecord]) -> list[tuple[str, str]]:
        return [(f"{j.title} ({j.status})", j.id) for j in jobs]

    @ui_action("jobs.refresh", quiet=True)
    def refresh(selected: str | None):
        jobs = runner.list(limit=15)
        job = runner.get(selected) if selected else None
        return job_rows(jobs), gr.update(choices=_choices(jobs), value=selected), job_detail(job)

    @ui_action("jobs.cancel")
    def panel_cancel(selected: str | None):
        if not selected:
            raise InputError("Pick a job first.")
        changed = runner.cancel(selected)
        if not changed:
            gr.Info("That job has already ended.")
        return job_detail(runner.get(selected))

    @ui_action("jobs.resume")
    def panel_resume(selected: str | None):
        if not selected:
            raise InputError("Pick a job first.")
        runner.resume(selected)
        gr.Info("Resuming from the last checkpoint.")
        return job_detail(runner.get(selected))

    timer.tick(
        refresh,
        inputs=[pick],
        outputs=[table, pick, detail],
        show_progress="hidden",
        concurrency_limit=None,
        api_visibility="private",
    )
    pick.change(
        lambda s: job_detail(runner.get(s) if s else None),
        inputs=[pick],
        outputs=[detail],
        api_visibility="private",
        show_progress="hidden",
    )
    cancel.click(panel_cancel, inputs=[pick], outputs=[detail], api_visibility="private")
    resume.click(panel_resume, inputs=[pick], outputs=[detail], api_visibility="private")
