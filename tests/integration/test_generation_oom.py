"""Generation recovers from a CUDA out-of-memory: the built-in diffusers backend on the tiny SD 1.5 base,
with `torch.cuda.OutOfMemoryError` raised by a test double wrapped around the pipeline's call (or its
loading). The pictures already made are kept, the rest are made again with the VAE in tiles, then with the
model offloaded; each change is said in the notes and logged; only when both are on does the job fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from isengard.generation.service import GenerateForm
from plugins.image.diffusers_backend.backend import DiffusersImageBackend
from tests.helpers import install_tiny, make_settings, read_log_lines

pytestmark = pytest.mark.slow


@pytest.fixture
def studio(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    install_tiny(settings.data_dir, "sd15", tiny_models)
    ctx = bootstrap(settings, console=False)
    yield ctx
    ctx.close()


def out_of_memory_on(monkeypatch, owner, name: str, calls_that_fail: set[int]) -> list[int]:
    original = getattr(owner, name)
    calls = [0]

    def flaky(*args, **kwargs):
        calls[0] += 1
        if calls[0] in calls_that_fail:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test double)")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return calls


def make(ctx, count: int = 3):
    form = GenerateForm(prompt="a red apple", base_model="tiny-sd15", seed=5, steps=3, count=count)
    job_id, _ = ctx.generation.submit(form)
    return ctx.runner.wait(job_id, timeout=300)


def pixels(job) -> list[np.ndarray]:
    return [np.asarray(Image.open(i["path"]).convert("RGB")) for i in job.result["images"]]


def test_a_picture_that_runs_out_is_made_again_with_the_vae_in_tiles(studio, monkeypatch):
    reference = pixels(make(studio))
    out_of_memory_on(monkeypatch, StableDiffusionPipeline, "__call__", {2})
    job = make(studio)
    assert job.status == "succeeded", job.error
    said = "Out of GPU memory: the pictures from number 2 on are made with the VAE in tiles."
    assert said in job.result["notes"]
    got = pixels(job)
    assert len(got) == 3 and all(np.array_equal(a, b) for a, b in zip(got, reference, strict=True))
    logged = [x for x in read_log_lines(studio.paths.logs, "worker") if x.get("event") == "image.oom_retry"]
    assert logged and logged[-1]["correlation_id"] == job.correlation_id


def test_then_the_model_is_offloaded_and_loading_is_covered_too(studio, monkeypatch):
    out_of_memory_on(monkeypatch, DiffusersImageBackend, "_load", {1})  # loading the base runs out
    out_of_memory_on(monkeypatch, StableDiffusionPipeline, "__call__", {1})  # then its first picture
    job = make(studio, count=2)
    assert job.status == "succeeded", job.error
    notes = [n for n in job.result["notes"] if n.startswith("Out of GPU memory")]
    assert notes == [
        "Out of GPU memory: the pictures from number 1 on are made with the VAE in tiles.",
        "Out of GPU memory: the pictures from number 1 on are made with the model moved to the GPU part by "
        "part (slower).",
    ]
    assert len(job.result["images"]) == 2


def test_when_nothing_lighter_is_left_the_job_says_what_to_change(studio, monkeypatch):
    out_of_memory_on(monkeypatch, StableDiffusionPipeline, "__call__", {1, 2, 3})
    job = make(studio, count=1)
    assert job.status == "failed"
    assert job.error.startswith(
        "The GPU ran out of memory even with the VAE in tiles and the model offloaded"
    )
    assert "smaller size" in job.error
