"""Image generation on a tiny base: app path vs a bare diffusers call, warm vs cold, LoRA switch vs reload.

1. App path (service → job → backend → PNG with metadata) against a bare `pipe(...)` call with the same
   settings, interleaved run by run (target ≤ 1.05×).
2. The first request (loads the base) against the second (warm cache).
3. Switching between two LoRAs on the loaded base against reloading the base with the other LoRA.
Usage: python bench/generation.py [--repeats 7] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import _common


def make_lora(base: Path, folder: Path, colour, name: str) -> Path:
    from PIL import Image

    from plugins.base import ModelRef, PluginSettings, SimpleRunContext
    from plugins.training.diffusers_trainer import DiffusersTrainer
    from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest

    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for i in range(2):
        path = folder / f"{name}{i}.png"
        Image.new("RGB", (64, 64), tuple(c + i for c in colour)).save(path)
        photos.append(path)
    result = DiffusersTrainer(PluginSettings(mode="production")).run(
        TrainingRequest(
            job_id=name,
            name=name,
            trigger_word="zxq",
            dataset=[DatasetItem(p, "zxq") for p in photos],
            base=ModelRef(id="tiny-sd15", family="sd15", source="tiny:sd15", local_path=base),
            params=TrainingParams(
                steps=4,
                rank=4,
                alpha=4,
                resolution=64,
                save_every=1000,
                sample_every=0,
                mixed_precision="fp32",
                gradient_checkpointing=False,
            ),
            output_dir=folder / "run",
        ),
        SimpleRunContext(),
    )
    return result.lora_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from diffusers import StableDiffusionPipeline

    from isengard.context import bootstrap
    from isengard.generation.service import GenerateForm
    from isengard.settings import Settings
    from isengard.tiny.models import build_tiny_base

    work = Path(tempfile.mkdtemp(prefix="isengard-bench-gen-"))
    env = {
        "ISENGARD_MODE": "production",
        "DATA_DIR": str(work / "data"),
        "LOG_DIR": str(work / "logs"),
        "TMP_DIR": str(work / "tmp"),
    }
    base = build_tiny_base("sd15", work / "data" / "models" / "base" / "tiny-sd15")
    red = make_lora(base, work / "red", (220, 20, 20), "red")
    blue = make_lora(base, work / "blue", (20, 20, 220), "blue")
    ctx = bootstrap(Settings.from_env(env, volume_roots=()), console=False)
    backend = ctx.registry.get("image", "diffusers")
    form = {
        "prompt": "a photo of zxq",
        "base_model": "tiny-sd15",
        "seed": 3,
        "steps": args.steps,
        "width": 64,
        "height": 64,
    }

    def app(**extra) -> float:
        started = time.perf_counter()
        job = ctx.runner.wait(ctx.generation.submit(GenerateForm(**(form | extra)))[0], timeout=600)
        assert job.status == "succeeded", job.error
        return time.perf_counter() - started

    # 2. cold vs warm (the first request loads the base into the cache)
    cold = app()
    warm = app()

    # 1. app path vs a bare pipeline call, interleaved
    bare_pipe = StableDiffusionPipeline.from_pretrained(
        str(base), safety_checker=None, requires_safety_checker=False
    )
    bare_pipe.set_progress_bar_config(disable=True)

    def bare() -> float:
        started = time.perf_counter()
        bare_pipe(
            "a photo of zxq",
            num_inference_steps=args.steps,
            height=64,
            width=64,
            guidance_scale=5.0,
            generator=torch.Generator().manual_seed(3),
        ).images[0].save(work / "bare.png")
        return time.perf_counter() - started

    app_times, bare_times = [], []
    for _ in range(args.repeats):
        app_times.append(app())
        bare_times.append(bare())

    # 3. LoRA switch on the warm base vs reloading the base with the LoRA
    switch_times, reload_times = [], []
    for i in range(args.repeats):
        lora = red if i % 2 else blue
        started = time.perf_counter()
        ctx.runner.wait(
            ctx.generation.submit(
                GenerateForm(**(form | {"loras": [{"path": str(lora), "strength": 1.0}], "steps": 1}))
            )[0],
            timeout=600,
        )
        switch_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        fresh = StableDiffusionPipeline.from_pretrained(
            str(base), safety_checker=None, requires_safety_checker=False
        )
        fresh.set_progress_bar_config(disable=True)
        fresh.load_lora_weights(str(lora))
        fresh(
            "a photo of zxq",
            num_inference_steps=1,
            height=64,
            width=64,
            generator=torch.Generator().manual_seed(3),
        )
        reload_times.append(time.perf_counter() - started)
    stats = dict(backend.stats)
    ctx.close()
    med = statistics.median
    _common.write_report(
        "generation",
        {
            "model": "tiny-sd15",
            "steps": args.steps,
            "size": "64x64",
            "repeats": args.repeats,
            "app_median_s": round(med(app_times), 4),
            "bare_median_s": round(med(bare_times), 4),
            "ratio_app_to_bare": round(med(app_times) / med(bare_times), 3),
            "first_request_s": round(cold, 4),
            "second_request_s": round(warm, 4),
            "ratio_second_to_first": round(warm / cold, 3),
            "lora_switch_median_s": round(med(switch_times), 4),
            "base_reload_median_s": round(med(reload_times), 4),
            "ratio_switch_to_reload": round(med(switch_times) / med(reload_times), 3),
            "backend_stats": stats,
        },
    )


if __name__ == "__main__":
    main()
