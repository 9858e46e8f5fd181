"""The newer families on their tiny models: our trainer's step against a bare diffusers + peft loop, and
generation through the app against a bare pipeline call. Target ≤ 1.05× for both.

Training: both in one process on the same latents, caption and LoRA settings, alternating one step of
each (ours = `LoraTrainer.train_step`, the loop body of a real run with its bookkeeping and progress
event; bare = the diffusers DreamBooth scripts' step written out: flow-matching noise, the transformer
call in the family's own convention, MSE, AdamW).
Generation: the studio's path (service → job → backend → PNG with metadata) against `pipe(...)` with
the same settings, interleaved run by run.
Usage: python bench/family_overhead.py [--family zimage ...] [--steps 120] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import _common

FAMILIES = {
    "zimage": "tiny-zimage-turbo",
    "flux2_klein": "tiny-flux2-klein",
    "flux2": "tiny-flux2",
    "qwen_image": "tiny-qwen-image",
}
CAPTION = "a photo of zxq"


def _work(family: str) -> tuple[Path, Path, list[Path]]:
    from isengard.tiny.models import build_tiny_base

    work = Path(tempfile.mkdtemp(prefix=f"isengard-bench-{family}-"))
    base = build_tiny_base(family, work / "data" / "models" / "base" / f"tiny-{family}")
    return work, base, _common.red_photos(work)


def _trainer(family: str, base: Path, photos: list[Path], work: Path, steps: int):
    from plugins.base import ModelRef, SimpleRunContext
    from plugins.training.diffusers_trainer.trainer import LoraTrainer
    from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest

    request = TrainingRequest(
        job_id=f"bench-{family}",
        name=f"bench_{family}",
        trigger_word="zxq",
        dataset=[DatasetItem(p, CAPTION) for p in photos],
        base=ModelRef(id=FAMILIES[family], family=family, source=f"tiny:{family}", local_path=base),
        params=TrainingParams(
            steps=steps,
            rank=4,
            alpha=4,
            learning_rate=1e-3,
            resolution=64,
            save_every=100000,
            sample_every=0,
            mixed_precision="fp32",
            gradient_checkpointing=False,
            caption_dropout=0.0,
            batch_size=1,
        ),
        output_dir=work / "run",
    )
    trainer = LoraTrainer(request, SimpleRunContext(), backend="bench", version="0")
    trainer.ctx.progress = lambda **fields: None
    trainer.setup()
    return trainer


def bare_step(family: str, base: Path, latent, targets):
    """One optimiser step of the DreamBooth scripts' loop for `family`, on a fresh pipeline."""
    import torch
    from diffusers import DiffusionPipeline
    from peft import LoraConfig

    pipe = DiffusionPipeline.from_pretrained(str(base))
    model = pipe.transformer
    model.requires_grad_(False)
    model.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=targets))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    x = latent.unsqueeze(0)
    with torch.no_grad():
        if family == "qwen_image":
            embeds, mask = pipe.encode_prompt(CAPTION, device="cpu", max_sequence_length=64)
            mask = torch.ones(embeds.shape[:2], dtype=torch.long) if mask is None else mask
        elif family == "zimage":
            embeds, _ = pipe.encode_prompt(
                CAPTION, device="cpu", do_classifier_free_guidance=False, max_sequence_length=64
            )
        else:  # FLUX.2 [klein] and [dev]
            embeds, text_ids = pipe.encode_prompt(CAPTION, device="cpu", max_sequence_length=64)
    guidance = torch.full((1,), 1.0) if model.config.get("guidance_embeds") else None

    def step(_: int) -> None:
        noise = torch.randn_like(x)
        sigma = torch.sigmoid(torch.randn(1))
        noisy = (1 - sigma.view(1, 1, 1, 1)) * x + sigma.view(1, 1, 1, 1) * noise
        if family == "zimage":
            out = model(list(noisy.unsqueeze(2).unbind(0)), 1 - sigma, embeds, return_dict=False)[0]
            pred = -torch.stack(out).squeeze(2)
        elif family in ("flux2_klein", "flux2"):
            ids = pipe._prepare_latent_ids(noisy)
            packed = pipe._pack_latents(noisy)
            out = model(hidden_states=packed, timestep=sigma, guidance=guidance, encoder_hidden_states=embeds,
                        txt_ids=text_ids, img_ids=ids, return_dict=False)[0]  # fmt: skip
            pred = pipe._unpack_latents_with_ids(out[:, : packed.shape[1]], ids)
        else:
            _, c, h, w = noisy.shape
            packed = pipe._pack_latents(noisy, 1, c, h, w)
            out = model(hidden_states=packed, encoder_hidden_states=embeds, encoder_hidden_states_mask=mask,
                        timestep=sigma, img_shapes=[[(1, h // 2, w // 2)]], return_dict=False)[0]  # fmt: skip
            factor = pipe.vae_scale_factor
            pred = pipe._unpack_latents(out, h * factor, w * factor, factor)[:, :, 0]
        loss = torch.nn.functional.mse_loss(pred.float(), (noise - x).float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def training(family: str, steps: int) -> dict:
    work, base, photos = _work(family)
    trainer = _trainer(family, base, photos, work, steps * 10)
    bare = bare_step(family, base, trainer.latents[0], trainer.family.target_modules(False))
    ours_t, bare_t = [], []
    for step in range(1, steps + 1):
        tick = time.perf_counter()
        bare(step)
        bare_t.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        trainer.train_step(step)
        ours_t.append(time.perf_counter() - tick)
    ours, plain = statistics.median(ours_t[10:]), statistics.median(bare_t[10:])
    return {"ours_step_s": round(ours, 5), "bare_step_s": round(plain, 5), "ratio": round(ours / plain, 3)}


def generation(family: str, repeats: int, steps: int) -> dict:
    import torch
    from diffusers import DiffusionPipeline

    from isengard.context import bootstrap
    from isengard.generation.service import GenerateForm
    from isengard.settings import Settings
    from plugins.families import FAMILY_INFO
    from plugins.image.diffusers_backend.families import RECIPES
    from plugins.image.interface import ImageRequest

    work, base, _ = _work(family)
    env = {"ISENGARD_MODE": "production", "DATA_DIR": str(work / "data"), "LOG_DIR": str(work / "logs"),
           "TMP_DIR": str(work / "tmp")}  # fmt: skip
    ctx = bootstrap(Settings.from_env(env, volume_roots=()), console=False)
    model = ctx.catalogue.get(FAMILIES[family])
    pipe = DiffusionPipeline.from_pretrained(str(base))
    pipe.set_progress_bar_config(disable=True)
    guidance = FAMILY_INFO[family].sample_guidance
    request = ImageRequest(
        prompt=CAPTION, base=model.ref(base), width=64, height=64, steps=steps, guidance=guidance
    )
    kwargs = RECIPES[family].call_kwargs(request, {"t5_max_length": 64})

    def app() -> None:
        form = GenerateForm(prompt=CAPTION, base_model=model.id, steps=steps, guidance=guidance, seed=1, width=64,
                            height=64)  # fmt: skip
        job_id, _ = ctx.generation.submit(form)
        assert ctx.runner.wait(job_id, timeout=300).status == "succeeded"

    def bare() -> None:
        pipe(
            **kwargs,
            num_inference_steps=steps,
            height=64,
            width=64,
            generator=torch.Generator().manual_seed(1),
        )

    app()  # the first request loads the base: measured warm, as the bare pipeline is
    try:
        times = _common.interleaved({"bare": bare, "app": app}, repeats)
    finally:
        ctx.close()
    return _common.summary(times, "bare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", choices=list(FAMILIES))
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--gen-steps", type=int, default=20)
    args = parser.parse_args()
    report = {"steps": args.steps, "repeats": args.repeats, "families": {}}
    for family in args.family or FAMILIES:
        report["families"][family] = {
            "training": training(family, args.steps),
            "generation": generation(family, args.repeats, args.gen_steps),
        }
        print(family, report["families"][family], flush=True)
    _common.write_report("family_overhead", report)


if __name__ == "__main__":
    main()
