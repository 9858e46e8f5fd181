"""The built-in trainer on every family's tiny base, through the job runner like a user's job.

For each family the trained LoRA loads into a fresh pipeline, changes its output, reproduces the trained
model's own sample exactly at weight 1.0, and unloading it restores the original output bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugins.families import FAMILY_INFO
from plugins.image.diffusers_backend.families import RECIPES
from plugins.image.interface import ImageRequest
from plugins.training.diffusers_trainer import DiffusersTrainer
from tests.helpers import install_tiny, make_settings, solid_photos

pytestmark = pytest.mark.slow
TRAINED = DiffusersTrainer.families
CATALOGUE_ID = {
    "flux2_klein": "tiny-flux2-klein",
    "qwen_image": "tiny-qwen-image",
    "zimage": "tiny-zimage-turbo",
}


@pytest.fixture
def prod_ctx(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    for family in TRAINED:
        install_tiny(settings.data_dir, family, tiny_models)
    ctx = bootstrap(settings, console=False)
    yield ctx
    ctx.close()


def _character(ctx, tmp_path, name="Red Square"):
    character = ctx.characters.create(name)
    ctx.characters.add_photos(character.id, [(p, p.name) for p in solid_photos(tmp_path / "red")])
    return ctx.characters.get(character.id)


def _generate(pipe, family: str, prompt: str, seed: int, steps: int = 4, guidance: float | None = None):
    """A plain pipeline call with the family's own arguments (the image backend's recipe builds them),
    at the guidance the trainer's samples use unless told otherwise."""
    import torch

    from plugins.base import ModelRef

    request = ImageRequest(
        base=ModelRef(id="tiny", family=family, source="tiny"),
        prompt=prompt,
        guidance=FAMILY_INFO[family].sample_guidance if guidance is None else guidance,
        steps=steps,
        width=64,
        height=64,
        seed=seed,
    )
    image = pipe(
        **RECIPES[family].call_kwargs(request, {"t5_max_length": 64}),
        num_inference_steps=steps,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(seed),
    ).images[0]
    return np.asarray(image)


@pytest.mark.parametrize("family", TRAINED)
def test_lora_from_a_training_job_loads_reproduces_and_unloads(prod_ctx, tmp_path, family):
    from diffusers import DiffusionPipeline

    from plugins.lora_format import read_lora_info

    ctx = prod_ctx
    character = _character(ctx, tmp_path)
    job_id = ctx.training.submit(
        character.id,
        base_model=CATALOGUE_ID.get(family, f"tiny-{family}"),
        preset="tiny-cpu",
        overrides={"steps": 30, "save_every": 10, "sample_every": 30},
    )
    job = ctx.runner.wait(job_id, timeout=300)
    assert job.status == "succeeded", job.error
    info = read_lora_info(job.result["lora_path"])
    assert info.family == family and info.trigger_word == character.trigger_word
    assert info.metadata["ss_base_model_version"] and info.metadata["isengard_steps"] == "30"
    records = ctx.loras.for_character(character.id, kinds=("final", "checkpoint"))
    assert [r.kind for r in records].count("final") == 1 and {r.step for r in records} >= {10, 20, 30}

    pipe = DiffusionPipeline.from_pretrained(str(ctx.paths.base_models / f"tiny-{family}"))
    pipe.set_progress_bar_config(disable=True)
    from isengard.evaluation.probes import probe_prompts

    prompt = probe_prompts(character.trigger_word, character.class_word)[0]  # the first sample's prompt
    seed = job.params["params"]["seed"]
    before = _generate(pipe, family, prompt, seed)
    pipe.load_lora_weights(job.result["lora_path"], adapter_name="trained")
    with_lora = _generate(pipe, family, prompt, seed)
    trained_sample = np.asarray(Image.open(next(s for s in job.result["samples"] if "step000030_0" in s)))
    assert not np.array_equal(before, with_lora)
    assert np.array_equal(with_lora, trained_sample)  # weight 1.0 reproduces the trained model exactly
    pipe.unload_lora_weights()
    assert np.array_equal(_generate(pipe, family, prompt, seed), before)


@pytest.mark.parametrize("family", ["flux", "flux2_klein", "flux2", "zimage", "qwen_image"])
def test_tiny_flow_models_learn_the_colour_of_their_photos(prod_ctx, tmp_path, family):
    """Trained on plain red photos, the LoRA moves generated colour onto red at fixed seeds (guidance off:
    on a random base, CFG's difference of two random predictions says nothing about what was learnt)."""
    from diffusers import DiffusionPipeline

    ctx = prod_ctx
    character = _character(ctx, tmp_path, "Reddy")
    job = ctx.runner.wait(
        ctx.training.submit(
            character.id,
            base_model=CATALOGUE_ID.get(family, f"tiny-{family}"),
            preset="tiny-cpu",
            overrides={"steps": 100, "sample_every": 0},
        ),
        timeout=300,
    )
    assert job.status == "succeeded", job.error
    pipe = DiffusionPipeline.from_pretrained(str(ctx.paths.base_models / f"tiny-{family}"))
    pipe.set_progress_bar_config(disable=True)
    prompt = f"a photo of {character.trigger_word}, a person"
    red = np.array([220, 20, 20])
    off = FAMILY_INFO[family].guidance_off if family != "flux" else 3.5  # FLUX.1's guidance is embedded

    def colours() -> list:
        return [
            _generate(pipe, family, prompt, seed, guidance=off).reshape(-1, 3).mean(0) for seed in (0, 1, 2)
        ]

    before = colours()
    pipe.load_lora_weights(job.result["lora_path"])
    after = colours()
    for b, a in zip(before, after, strict=True):
        assert np.linalg.norm(a - red) < 0.5 * np.linalg.norm(b - red), (b, a)
        assert a[0] - b[0] > 40  # clearly redder


def test_tiny_sdxl_latent_error_drops_sharply(prod_ctx, tmp_path):
    """SDXL's pixel colour is seed-dependent on a random base; its denoising error on the photos is not."""
    import torch
    from diffusers import DDPMScheduler, StableDiffusionXLPipeline

    ctx = prod_ctx
    character = _character(ctx, tmp_path, "Sdxl Red")
    job = ctx.runner.wait(
        ctx.training.submit(
            character.id,
            base_model="tiny-sdxl",
            preset="tiny-cpu",
            overrides={"steps": 100, "sample_every": 0},
        ),
        timeout=300,
    )
    assert job.status == "succeeded", job.error
    pipe = StableDiffusionXLPipeline.from_pretrained(str(ctx.paths.base_models / "tiny-sdxl"))
    photo = torch.tensor([220, 20, 20], dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 64, 64) / 127.5 - 1
    with torch.no_grad():
        latent = pipe.vae.encode(photo).latent_dist.mode() * pipe.vae.config.scaling_factor
        embeds, _, pooled, _ = pipe.encode_prompt(
            f"a photo of {character.trigger_word}, a person",
            device="cpu",
            num_images_per_prompt=1,
            do_classifier_free_guidance=False,
        )
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    steps = torch.linspace(100, 900, 16).long()
    noise = torch.randn((16, *latent.shape[1:]), generator=torch.Generator().manual_seed(0))
    time_ids = torch.tensor([[64, 64, 0, 0, 64, 64]] * 16, dtype=torch.float32)

    def error() -> float:
        with torch.no_grad():
            noisy = scheduler.add_noise(latent.expand(16, -1, -1, -1), noise, steps)
            pred = pipe.unet(
                noisy,
                steps,
                embeds.expand(16, -1, -1),
                added_cond_kwargs={"time_ids": time_ids, "text_embeds": pooled.expand(16, -1)},
            ).sample
        return torch.nn.functional.mse_loss(pred, noise).item()

    base_error = error()
    pipe.load_lora_weights(job.result["lora_path"])
    assert error() < 0.5 * base_error
