"""The built-in image backend on the tiny bases, through the generation service and job runner."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isengard.errors import InputError
from isengard.generation.metadata import settings_from_png
from isengard.generation.service import GenerateForm
from plugins.base import PluginSettings, SimpleRunContext
from plugins.training.diffusers_trainer import DiffusersTrainer
from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest
from tests.helpers import install_tiny, make_settings, solid_photos, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_loras(tmp_path_factory, tiny_models):
    """Two quick SD 1.5 LoRAs (red and blue photos) and one FLUX LoRA, trained once for this module."""
    root = tmp_path_factory.mktemp("loras")
    out = {}
    for name, family, colour in (
        ("red", "sd15", (220, 20, 20)),
        ("blue", "sd15", (20, 20, 220)),
        ("flux", "flux", (20, 200, 20)),
    ):
        base = install_tiny(root / "data", family, tiny_models)
        photos = solid_photos(root / f"photos-{name}", colour)
        from plugins.base import ModelRef

        result = DiffusersTrainer(PluginSettings(mode="production")).run(
            TrainingRequest(
                job_id=name,
                name=name,
                trigger_word="zxq",
                dataset=[DatasetItem(p, "a photo of zxq") for p in photos],
                base=ModelRef(id=f"tiny-{family}", family=family, source=f"tiny:{family}", local_path=base),
                params=TrainingParams(
                    steps=8,
                    rank=4,
                    alpha=4,
                    learning_rate=1e-2,
                    resolution=64,
                    save_every=1000,
                    sample_every=0,
                    mixed_precision="fp32",
                    gradient_checkpointing=False,
                    train_conv=True,
                    conv_rank=4,
                ),
                output_dir=root / name,
            ),
            SimpleRunContext(),
        )
        out[name] = result.lora_path
    return out


@pytest.fixture
def ctx(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    for family in ("sd15", "flux"):
        install_tiny(settings.data_dir, family, tiny_models)
    app = bootstrap(settings, console=False)
    yield app
    app.close()


@pytest.fixture
def loras(ctx, two_loras) -> dict:
    """The trained LoRAs copied into this studio's LoRA store (generation reads no file from elsewhere)."""
    import shutil

    folder = ctx.paths.loras / "test"
    folder.mkdir(parents=True, exist_ok=True)
    return {
        name: shutil.copy(path, folder / Path(path).name.replace(Path(path).stem, name))
        for name, path in two_loras.items()
    }


def _make(ctx, **kw) -> dict:
    form = GenerateForm(
        **({"prompt": "a photo of zxq", "base_model": "tiny-sd15", "seed": 11, "steps": 4} | kw)
    )
    job_id, _ = ctx.generation.submit(form)
    job = ctx.runner.wait(job_id, timeout=300)
    assert job.status == "succeeded", job.error
    return job.result


def _pixels(result: dict, index: int = 0) -> np.ndarray:
    return np.asarray(Image.open(result["images"][index]["path"]).convert("RGB"))


def test_lora_changes_the_picture_and_the_same_seed_repeats_it(ctx, loras):
    plain = _make(ctx)
    again = _make(ctx)
    with_lora = _make(ctx, loras=[{"path": str(loras["red"]), "strength": 1.0}])
    assert np.array_equal(_pixels(plain), _pixels(again))
    assert not np.array_equal(_pixels(plain), _pixels(with_lora))
    other_seed = _make(ctx, seed=12)
    assert not np.array_equal(_pixels(plain), _pixels(other_seed))


def test_switching_loras_never_reloads_the_base(ctx, loras):
    backend = ctx.registry.get("image", "diffusers")
    red = [{"path": str(loras["red"]), "strength": 1.0}]
    blue = [{"path": str(loras["blue"]), "strength": 1.0}]
    first_red = _make(ctx, loras=red)
    loads_before = backend.stats["base_loads"]
    first_blue = _make(ctx, loras=blue)
    red_again = _make(ctx, loras=red)
    none = _make(ctx)
    both = _make(ctx, loras=[*red, {"path": str(loras["blue"]), "strength": 0.5}])
    assert backend.stats["base_loads"] == loads_before  # one base load, whatever the LoRAs
    assert backend.stats["lora_loads"] == 2  # each LoRA file read once
    assert np.array_equal(_pixels(first_red), _pixels(red_again))
    assert not np.array_equal(_pixels(first_red), _pixels(first_blue))
    assert not np.array_equal(_pixels(both), _pixels(first_red))
    plain_fresh = _make(ctx)
    assert np.array_equal(_pixels(none), _pixels(plain_fresh))


def test_settings_round_trip_through_the_png(ctx, loras):
    first = _make(
        ctx,
        loras=[{"path": str(loras["red"]), "strength": 0.8}],
        negative_prompt="blurry",
        scheduler="dpmpp_2m",
        guidance=6.0,
        count=2,
    )
    saved = settings_from_png(first["images"][1]["path"])
    assert saved["seed"] == 12 and saved["negative_prompt"] == "blurry" and saved["scheduler"] == "dpmpp_2m"
    assert saved["loras"][0]["strength"] == 0.8
    again = _make(
        ctx,
        **{
            k: saved[k]
            for k in (
                "prompt",
                "negative_prompt",
                "base_model",
                "loras",
                "width",
                "height",
                "steps",
                "guidance",
                "scheduler",
                "seed",
            )
        },
    )
    assert np.array_equal(_pixels(again), _pixels(first, 1))
    text = Image.open(first["images"][0]["path"]).text["parameters"]
    assert "<lora:red:0.8>" in text and "Sampler: DPM++ 2M" in text and "Lora hashes:" in text


def test_bad_requests_are_explained(ctx, loras, tmp_path):
    with pytest.raises(InputError, match=r"was trained for FLUX\.1, but the base model is Tiny SD 1\.5"):
        ctx.generation.submit(
            GenerateForm(
                prompt="x", base_model="tiny-sd15", loras=[{"path": str(loras["flux"]), "strength": 1}]
            )
        )
    broken = ctx.paths.loras / "broken.safetensors"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"not a readable \.safetensors LoRA"):
        ctx.generation.submit(
            GenerateForm(prompt="x", base_model="tiny-sd15", loras=[{"path": str(broken), "strength": 1}])
        )
    outside = tmp_path / "elsewhere.safetensors"  # any file on the machine: never read by generation
    outside.write_bytes(Path(loras["red"]).read_bytes())
    with pytest.raises(InputError, match="is not one of Isengard's LoRAs"):
        ctx.generation.submit(
            GenerateForm(prompt="x", base_model="tiny-sd15", loras=[{"path": str(outside), "strength": 1}])
        )
    long = _make(ctx, prompt=" ".join(["a very detailed photo of zxq in a sunlit garden"] * 12))
    cut = next(note for note in long["notes"] if "reads only the start of a long prompt" in note)
    assert "words) was left out" in cut and "token" not in cut and "encoder" not in cut  # plain words
    _, prepared = ctx.generation.submit(
        GenerateForm(prompt="x", base_model="tiny-flux", width=70, height=64, steps=2)
    )
    assert prepared.form.width == 64 and "multiples of 16" in prepared.notes[0]


def test_cancel_mid_generation_and_previews(ctx):
    job_id, _ = ctx.generation.submit(GenerateForm(prompt="x", base_model="tiny-sd15", steps=150, count=3))
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 3, timeout=120, interval=0.01)
    ctx.runner.cancel(job_id)
    job = ctx.runner.wait(job_id, timeout=60)
    assert job.status == "cancelled" and job.progress["step"] < 450
    previews = [e for e in ctx.runner.events(job_id, type_="progress") if e.data.get("preview")]
    assert previews, "previews are sent while generating"
    messages = [e.data.get("message") for e in ctx.runner.events(job_id, type_="progress")]
    assert "Generating image 1 of 3" in messages  # the status line moves on from "Loading …"
    assert ctx.generation.history() == [] or all(g["job_id"] != job_id for g in ctx.generation.history())


def test_two_users_at_once_queue_on_the_gpu_lock_and_both_finish(ctx):
    ids: list[str] = []

    def submit():
        ids.append(ctx.generation.submit(GenerateForm(prompt="x", base_model="tiny-sd15", steps=20))[0])

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    jobs = [ctx.runner.wait(job_id, timeout=300) for job_id in ids]
    assert all(job.status == "succeeded" for job in jobs)
    waited = [
        any("Waiting for its turn" in (e.data.get("message") or "") for e in ctx.runner.events(j.id))
        for j in jobs
    ]
    assert any(waited)


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("tiny-zimage-turbo", "zimage"),
        ("tiny-flux2-klein", "flux2_klein"),
        ("tiny-flux2", "flux2"),
        ("tiny-qwen-image", "qwen_image"),
    ],
)
def test_newer_families_generate_with_their_own_settings_and_repeat_from_the_png(
    tmp_path, tiny_models, model_id, family
):
    """Each family's guidance convention and defaults reach its pipeline; the PNG's settings repeat it."""
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    install_tiny(settings.data_dir, family, tiny_models)
    app = bootstrap(settings, console=False)
    try:
        model = app.catalogue.get(model_id)
        first = _make(app, base_model=model_id, steps=None, negative_prompt="blurry")
        meta = settings_from_png(first["images"][0]["path"])
        assert meta["steps"] == model.default_steps and float(meta["guidance"]) == model.default_guidance
        again = _make(
            app,
            base_model=model_id,
            steps=meta["steps"],
            guidance=float(meta["guidance"]),
            negative_prompt="blurry",
        )
        assert np.array_equal(_pixels(first), _pixels(again))
        notes = " ".join(first.get("notes") or [])
        if family in ("zimage", "flux2_klein", "flux2"):  # Turbo (guidance 0) and FLUX.2 ignore a negative
            assert "does not use a negative prompt" in notes
    finally:
        app.close()


@pytest.mark.parametrize("model_id", ["zimage-turbo", "flux2-klein-4b", "flux2-dev", "qwen-image-2512"])
def test_fast_test_mode_draws_the_newer_families_at_their_real_size(tmp_path, model_id):
    from isengard.context import bootstrap

    app = bootstrap(make_settings(tmp_path, mode="fast-test"), console=False)
    try:
        result = _make(app, base_model=model_id, steps=None, seed=3)
        with Image.open(result["images"][0]["path"]) as image:
            assert image.size == (1024, 1024)
        assert (
            settings_from_png(result["images"][0]["path"])["steps"]
            == app.catalogue.get(model_id).default_steps
        )
    finally:
        app.close()
