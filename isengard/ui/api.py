"""The studio's HTTP API (Gradio endpoints with named, typed parameters) for scripts and gradio_client.

Same services as the tabs; every call runs under a correlation id (the `X-Correlation-ID` header if sent).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from isengard import validation
from isengard.generation.service import GenerateForm
from isengard.ui.actions import ui_action
from isengard.ui.api_loop import register_loop


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def plain_json(value: Any) -> Any:
    """JSON a script can read as it is: a dict with a "path" key would look like a file to Gradio, which
    then turns it into a download (gradio_client fetches every image and LoRA). Paths go under "file"."""
    if isinstance(value, dict):
        return {("file" if key == "path" else str(key)): plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    return value


def register(ctx) -> None:
    runner = ctx.runner

    @ui_action("api.generate", raises=True)
    def generate(
        prompt: str,
        negative_prompt: str = "",
        base_model: str = "",
        backend: str = "",
        width: int = 0,
        height: int = 0,
        steps: int = 0,
        guidance: float = -1.0,
        sampler: str = "default",
        seed: int = -1,
        count: int = 1,
        loras: list[dict[str, Any]] | None = None,
        character: str = "",
    ) -> dict[str, Any]:
        """Queue an image generation; returns its job id (follow it with /job). `character` (a name) brings
        its trigger word and its newest LoRA unless `loras` are given."""
        form = GenerateForm(
            prompt=prompt,
            negative_prompt=negative_prompt,
            base_model=base_model or None,
            backend=backend or None,
            width=width or None,
            height=height or None,
            steps=steps or None,
            guidance=None if _is_number(guidance) and guidance < 0 else guidance,
            scheduler=sampler,
            seed=seed,
            count=count,
            loras=loras if isinstance(loras, list) else ([] if loras is None else loras),
            character_id=ctx.characters.get(character).id if character else None,
        )
        job_id, prepared = ctx.generation.submit(form)
        return plain_json({"job_id": job_id, "seed": prepared.form.seed, "notes": prepared.notes})

    @ui_action("api.job", quiet=True, raises=True)
    def job(job_id: str) -> dict[str, Any]:
        """A job's record: status, progress, result or error."""
        record = runner.get(job_id)
        if record is None:
            raise gr.Error(f"There is no job {job_id}.", print_exception=False)
        return plain_json(record.to_dict())

    @ui_action("api.jobs", quiet=True, raises=True)
    def jobs(limit: int = 20) -> list[dict[str, Any]]:
        """The most recent jobs, newest first."""
        limit = validation.whole_number("limit", limit, 1, 200)
        return plain_json([r.to_dict() for r in runner.list(limit=limit)])

    @ui_action("api.cancel_job", raises=True)
    def cancel_job(job_id: str) -> dict[str, Any]:
        """Ask a job to stop (it keeps its last checkpoint)."""
        return {"job_id": job_id, "cancel_requested": runner.cancel(job_id)}

    @ui_action("api.resume_job", raises=True)
    def resume_job(job_id: str) -> dict[str, Any]:
        """Continue an interrupted or cancelled job from its last checkpoint."""
        runner.resume(job_id)
        return {"job_id": job_id, "status": "queued"}

    gr.api(generate, api_name="generate")
    gr.api(job, api_name="job", concurrency_limit=None)
    gr.api(jobs, api_name="jobs", concurrency_limit=None)
    gr.api(cancel_job, api_name="cancel_job", concurrency_limit=None)
    gr.api(resume_job, api_name="resume_job")
    register_loop(ctx, plain_json)
