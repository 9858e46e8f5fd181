"""Our trainer against a bare diffusers + peft loop on the same tiny model (FLUX, or SDXL written the way
diffusers' SDXL LoRA example trains: DDPM noise, epsilon target, size conditioning, LoRA on the attention
projections), the same data and settings. For SDXL the conv layers are measured off (the default) and on.

Step time: both in one process, alternating one step of each (ours = `LoraTrainer.train_step`, the loop
body of a real run with its bookkeeping and progress event), so machine drift hits both alike.
Peak RSS: each variant trains in its own process. Target ≤ 1.05× on both.
Usage: python bench/trainer_overhead.py [--family flux|sdxl] [--steps 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

FAMILY = "flux"


def _setup(work: Path):
    from isengard.tiny.models import build_tiny_base

    base = build_tiny_base(FAMILY, work / f"tiny-{FAMILY}")
    return base, _common.red_photos(work)


def _request(work: Path, steps: int, *, train_conv: bool = False):
    """The same tiny training for every variant: rank 4 at 64 px, fp32, no samples or checkpoints."""
    from plugins.base import ModelRef
    from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest

    base, photos = _setup(work)
    return TrainingRequest(
        job_id="bench",
        name="bench",
        trigger_word="zxq",
        dataset=[DatasetItem(p, "a photo of zxq") for p in photos],
        base=ModelRef(id=f"tiny-{FAMILY}", family=FAMILY, source=f"tiny:{FAMILY}", local_path=base),
        params=TrainingParams(
            steps=steps,
            rank=4,
            alpha=4,
            learning_rate=1e-2,
            resolution=64,
            save_every=100000,
            sample_every=0,
            mixed_precision="fp32",
            gradient_checkpointing=False,
            caption_dropout=0.0,
            train_conv=train_conv,
            conv_rank=4,
        ),
        output_dir=work / "run",
    )


def run_ours(work: Path, steps: int) -> dict:
    from plugins.base import PluginSettings, SimpleRunContext
    from plugins.training.diffusers_trainer import DiffusersTrainer

    request = _request(work, steps)
    times: list[float] = []
    ctx = SimpleRunContext()
    last = [None]

    def progress(**fields):
        if "loss" in fields:
            now = time.perf_counter()
            if last[0] is not None:
                times.append(now - last[0])
            last[0] = now

    ctx.progress = progress
    DiffusersTrainer(PluginSettings(mode="production")).run(request, ctx)
    return {"step_s": statistics.median(times[10:])}


def bare_loop(base: Path, latents=None):
    return (bare_flux if FAMILY == "flux" else bare_sdxl)(base, latents)


def bare_sdxl(base: Path, latents=None):
    """SDXL as diffusers' LoRA example trains it: DDPM noise at a uniform timestep, epsilon target,
    time ids for the size, LoRA (gaussian init) on to_k/to_q/to_v/to_out.0, AdamW, clipped gradients."""
    import torch
    from diffusers import DDPMScheduler, StableDiffusionXLPipeline
    from peft import LoraConfig

    pipe = StableDiffusionXLPipeline.from_pretrained(str(base))
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    with torch.no_grad():
        embeds, _, pooled, _ = pipe.encode_prompt(
            "a photo of zxq", device="cpu", do_classifier_free_guidance=False
        )
    assert latents is not None, "give the latents our trainer cached"
    unet = pipe.unet
    unet.requires_grad_(False)
    torch.manual_seed(42)
    unet.add_adapter(
        LoraConfig(
            r=4,
            lora_alpha=4,
            init_lora_weights="gaussian",
            target_modules=["to_k", "to_q", "to_v", "to_out.0"],
        )
    )
    unet.train()
    params = [p for p in unet.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=1e-2)

    def step(n: int) -> None:
        gen = torch.Generator().manual_seed(n)
        x = latents[n % len(latents)][None]
        noise = torch.randn(x.shape, generator=gen)
        t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (1,), generator=gen)
        noisy = noise_scheduler.add_noise(x, noise, t)
        h, w = x.shape[-2] * 8, x.shape[-1] * 8
        time_ids = torch.tensor([[h, w, 0, 0, h, w]], dtype=torch.float32)
        pred = unet(
            noisy,
            t,
            encoder_hidden_states=embeds,
            added_cond_kwargs={"text_embeds": pooled, "time_ids": time_ids},
            return_dict=False,
        )[0]
        loss = torch.nn.functional.mse_loss(pred.float(), noise.float())
        loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def bare_flux(base: Path, latents=None):
    """A plain loop as a diffusers example would write it: cached latents/text, peft LoRA, AdamW.
    Returns `step(n)`; `latents` may be given (the same tensors our trainer cached) or are encoded here."""
    import numpy as np
    import torch
    from diffusers import FluxPipeline
    from peft import LoraConfig
    from PIL import Image

    from plugins.training.diffusers_trainer.families import FLUX_TARGETS

    pipe = FluxPipeline.from_pretrained(str(base))
    with torch.no_grad():
        embeds, pooled, _ = pipe.encode_prompt(
            "a photo of zxq", prompt_2=None, device="cpu", max_sequence_length=64
        )
        if latents is None:
            generator = torch.Generator().manual_seed(42)
            vae = pipe.vae
            pixels = [
                torch.from_numpy(np.asarray(Image.open(p), dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)
                for p in sorted(base.parent.glob("red*.png"))
            ]
            latents = [
                (
                    (vae.encode(px[None]).latent_dist.sample(generator=generator) - vae.config.shift_factor)
                    * vae.config.scaling_factor
                )[0]
                for px in pixels
            ]
    model = pipe.transformer
    model.requires_grad_(False)
    torch.manual_seed(42)
    model.add_adapter(
        LoraConfig(
            r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=["x_embedder", *FLUX_TARGETS]
        )
    )
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=1e-2)

    def step(n: int) -> None:
        gen = torch.Generator().manual_seed(n)
        x = latents[n % len(latents)][None]
        b, c, h, w = x.shape
        noise = torch.randn(x.shape, generator=gen)
        sigma = torch.sigmoid(torch.randn(1, generator=gen))
        noisy = (1 - sigma.view(-1, 1, 1, 1)) * x + sigma.view(-1, 1, 1, 1) * noise
        packed = FluxPipeline._pack_latents(noisy, b, c, h, w)
        img_ids = FluxPipeline._prepare_latent_image_ids(b, h // 2, w // 2, "cpu", torch.float32)
        pred = model(
            hidden_states=packed,
            timestep=sigma,
            guidance=torch.full((1,), 1.0),
            pooled_projections=pooled,
            encoder_hidden_states=embeds,
            txt_ids=torch.zeros(embeds.shape[1], 3),
            img_ids=img_ids,
            return_dict=False,
        )[0]
        pred = FluxPipeline._unpack_latents(pred, h * 2, w * 2, 2)
        loss = torch.nn.functional.mse_loss(pred.float(), (noise - x).float())
        loss.item()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def run_bare(work: Path, steps: int) -> dict:
    base, _ = _setup(work)
    step = bare_loop(base, _latents(work) if FAMILY != "flux" else None)
    times = []
    for n in range(1, steps + 1):
        tick = time.perf_counter()
        step(n)
        times.append(time.perf_counter() - tick)
    return {"step_s": statistics.median(times[10:])}


def _trainer(work: Path, steps: int, *, train_conv: bool):
    from plugins.base import SimpleRunContext
    from plugins.training.diffusers_trainer.trainer import LoraTrainer

    trainer = LoraTrainer(
        _request(work, steps, train_conv=train_conv), SimpleRunContext(), backend="bench", version="0"
    )
    trainer.ctx.progress = lambda **fields: None
    return trainer


def _latents(work: Path) -> list:
    trainer = _trainer(work, 10, train_conv=False)
    trainer.setup()
    return list(trainer.latents)


def interleaved_steps(steps: int, train_conv: bool = False) -> dict:
    """Per-step medians of ours and bare, alternating step by step in this process."""

    work = Path(tempfile.mkdtemp(prefix="isengard-bench-"))
    base, _ = _setup(work)
    trainer = _trainer(work, steps * 10, train_conv=train_conv)
    trainer.ctx.progress = lambda **fields: None
    trainer.setup()
    bare = bare_loop(base, list(trainer.latents))

    ours_t, bare_t = [], []
    for step in range(1, steps + 1):
        tick = time.perf_counter()
        bare(step)
        bare_t.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        trainer.train_step(step)
        ours_t.append(time.perf_counter() - tick)
    return {"bare_step_s": statistics.median(bare_t[10:]), "ours_step_s": statistics.median(ours_t[10:])}


def child(kind: str, steps: int) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"isengard-bench-{kind}-"))
    (run_ours if kind == "ours" else run_bare)(work, steps)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--child", choices=["ours", "bare"])
    parser.add_argument("--family", choices=["flux", "sdxl"], default="flux")
    args = parser.parse_args()
    global FAMILY
    FAMILY = args.family
    if args.child:
        child(args.child, args.steps)
        return
    timing = interleaved_steps(args.steps)
    conv = interleaved_steps(args.steps, train_conv=True) if FAMILY == "sdxl" else None
    rss: dict[str, list[float]] = {"bare": [], "ours": []}
    for _ in range(args.repeats):
        for kind in ("bare", "ours"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, "--steps", "50", "--family", FAMILY],
                capture_output=True,
                text=True,
                check=True,
            )
            rss[kind].append(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"])
    report = {
        "model": f"tiny-{FAMILY}",
        "steps_timed": args.steps,
        "bare_median_step_s": round(timing["bare_step_s"], 5),
        "ours_median_step_s": round(timing["ours_step_s"], 5),
        "ratio_step_time": round(timing["ours_step_s"] / timing["bare_step_s"], 3),
        "bare_peak_rss_mb": round(statistics.median(rss["bare"]), 1),
        "ours_peak_rss_mb": round(statistics.median(rss["ours"]), 1),
        "ratio_peak_rss": round(statistics.median(rss["ours"]) / statistics.median(rss["bare"]), 3),
        "rss_runs": rss,
    }
    if conv:
        report["conv_on_ours_median_step_s"] = round(conv["ours_step_s"], 5)
        report["conv_on_over_conv_off"] = round(conv["ours_step_s"] / timing["ours_step_s"], 3)
        report["conv_on_over_bare"] = round(conv["ours_step_s"] / conv["bare_step_s"], 3)
    _common.write_report("trainer_overhead" if FAMILY == "flux" else f"trainer_overhead_{FAMILY}", report)


if __name__ == "__main__":
    main()
