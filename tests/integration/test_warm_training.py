"""The warm path of the built-in trainer (real diffusers + peft on the tiny FLUX): a second training of the
same character and base reuses the loaded base, the photos' latents and the prompt embeddings (counted by
the trainer's own statistics) and gives bit for bit the LoRA a cold run gives; a caption or photo change
prepares again only what changed; a generation's pipeline and the kept base never sit in memory at once."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from isengard.generation.service import GenerateForm
from tests.helpers import install_tiny, make_settings, solid_photos

pytestmark = pytest.mark.slow

SETTINGS = {"steps": 6, "sample_every": 0, "save_every": 100}


@pytest.fixture
def warm_ctx(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    install_tiny(settings.data_dir, "flux", tiny_models)
    ctx = bootstrap(settings, console=False)
    character = ctx.characters.create("Warm Person")
    ctx.characters.add_photos(character.id, [(p, p.name) for p in solid_photos(tmp_path / "red")])
    yield ctx
    ctx.close()


def _train(ctx, **overrides):
    job_id = ctx.training.submit(
        "Warm Person",
        base_model="tiny-flux",
        backend="diffusers",
        preset="tiny-cpu",
        overrides=SETTINGS | overrides,
    )
    job = ctx.runner.wait(job_id, timeout=300)
    assert job.status == "succeeded", job.error
    return job


def _messages(ctx, job) -> list[str]:
    return [e.data["message"] for e in ctx.runner.events(job.id, type_="progress") if e.data.get("message")]


def test_a_second_training_reuses_what_the_first_loaded_and_gives_the_same_lora(warm_ctx):
    ctx = warm_ctx
    trainer = ctx.registry.get("training", "diffusers")
    before = dict(trainer.stats)
    first = _train(ctx)
    after_first = dict(trainer.stats)
    assert after_first["base_loads"] == before["base_loads"] + 1
    second = _train(ctx)
    stats = trainer.stats
    photos = len(ctx.characters.photos("Warm Person"))
    assert stats["base_loads"] == after_first["base_loads"]  # not loaded again
    assert stats["base_reuses"] == after_first["base_reuses"] + 1
    assert stats["latent_reuses"] == after_first["latent_reuses"] + photos
    assert stats["latent_encodes"] == after_first["latent_encodes"]
    assert stats["text_encodes"] == after_first["text_encodes"]  # every prompt was kept
    assert "Tiny FLUX (test model) is still loaded from the last training" in _messages(ctx, second)
    assert "The photos are unchanged: reusing their latents" in _messages(ctx, second)

    cold, warm = load_file(first.result["lora_path"]), load_file(second.result["lora_path"])
    assert cold.keys() == warm.keys() and all(torch.equal(cold[k], warm[k]) for k in cold)
    assert ctx.training.loss_curve(first.id) == ctx.training.loss_curve(second.id)


def test_a_changed_caption_or_photo_is_prepared_again(warm_ctx, tmp_path):
    ctx = warm_ctx
    trainer = ctx.registry.get("training", "diffusers")
    _train(ctx)
    photo = ctx.characters.photos("Warm Person")[0]
    ctx.characters.set_caption(photo.id, "a photo of wrmpzx in a red coat")
    counts = dict(trainer.stats)
    edited = _train(ctx)
    assert trainer.stats["latent_encodes"] > counts["latent_encodes"]  # the photo set changed
    assert trainer.stats["text_encodes"] == counts["text_encodes"] + 1  # only the new caption
    assert "Reading the photos and caching latents" in _messages(ctx, edited)

    more = solid_photos(tmp_path / "blue", colour=(20, 40, 200), count=1)
    ctx.characters.add_photos("Warm Person", [(p, p.name) for p in more])
    counts = dict(trainer.stats)
    _train(ctx)
    photos = len(ctx.characters.photos("Warm Person"))
    assert trainer.stats["latent_encodes"] == counts["latent_encodes"] + photos


def _picture(ctx, **form):
    import numpy as np
    from PIL import Image

    job_id, _ = ctx.generation.submit(
        GenerateForm(
            prompt="a boat",
            backend="diffusers",
            base_model="tiny-flux",
            steps=2,
            width=64,
            height=64,
            seed=5,
            **form,
        )
    )
    job = ctx.runner.wait(job_id, 120)
    assert job.status == "succeeded", job.error
    return np.asarray(Image.open(job.result["images"][0]["path"]))


def test_training_and_image_gen_share_one_loaded_base(warm_ctx):
    """One FLUX in memory, not two: each hands its loaded pipeline to the other, which gets exactly what a
    fresh load would give (no adapter, sampler or state left behind)."""
    import numpy as np

    ctx = warm_ctx
    trainer = ctx.registry.get("training", "diffusers")
    images = ctx.registry.get("image", "diffusers")
    first = _train(ctx)
    kept = trainer.warm.loaded_bases()
    assert kept
    shared = _picture(ctx)
    assert images.cache.stats["base_taken"] == 1 and images.cache.stats["base_loads"] == 0
    assert trainer.warm.loaded_bases() == [] and trainer.stats["base_handed_over"] == 1

    lora = {"path": first.result["lora_path"], "strength": 1.0}
    _picture(ctx, loras=[lora], scheduler="default")  # a LoRA loaded into the shared pipeline
    loads = trainer.stats["base_loads"]
    again = _train(ctx)  # takes the pipeline back from Image Gen, LoRA and all unloaded
    assert trainer.stats["base_taken"] == 1 and trainer.stats["base_loads"] == loads
    assert images.cache.loaded() == [] and images.cache.stats["base_handed_over"] == 1
    assert "Tiny FLUX (test model) is already loaded (from Image Gen)" in _messages(ctx, again)
    cold, warm = load_file(first.result["lora_path"]), load_file(again.result["lora_path"])
    assert all(torch.equal(cold[k], warm[k]) for k in cold)

    trainer.warm.clear()
    images.cache.clear()
    fresh = _picture(ctx)  # loaded from disk
    assert images.cache.stats["base_loads"] == 1
    assert np.array_equal(shared, fresh)
