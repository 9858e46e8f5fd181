"""Peak GPU memory and seconds per step of every training preset of the newer families, measured on the
full-size architectures built directly on the GPU with random weights (nothing is downloaded; weight
values change neither memory nor speed).

For each preset of configs/training_presets.yaml (Z-Image, FLUX.2 [klein] and [dev], Qwen-Image): build the
denoiser at full size, apply the preset (4-bit NF4 base, gradient checkpointing, LoRA rank, resolution,
batch), run LoRA training steps through the built-in trainer's own family recipe (its loss, on random
latents and cached-size text embeddings), then a few generation forward steps. Writes
reports/gpu_presets.json with peak memory and s/step per preset; the presets' `peak_gb` should then be
set from it (`peak_source: "measured on <GPU>"`).

On a CPU the same code runs at tiny scale (`--scale tiny`, the test suite does this), so it cannot rot.
Usage: python bench/gpu_presets.py [--scale full|tiny] [--steps 5] [--family zimage ...]
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import _common

FAMILIES = ("zimage", "flux2_klein", "flux2", "qwen_image")
TEXT_TOKENS = {"zimage": 128, "flux2_klein": 512, "flux2": 512, "qwen_image": 128}


def _config(family: str, scale: str) -> dict:
    """Full size: the released models (klein 4B as ai-toolkit's Klein4BParams); tiny: the test models."""
    if family == "zimage":
        full = {}  # ZImageTransformer2DModel's defaults are Z-Image's 6.16 B configuration
        tiny = dict(all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=32, n_layers=2,
                    n_refiner_layers=1, n_heads=2, n_kv_heads=2, cap_feat_dim=16, axes_dims=[8, 4, 4],
                    axes_lens=[256, 32, 32])  # fmt: skip
    elif family == "flux2_klein":
        full = dict(num_layers=5, num_single_layers=20, num_attention_heads=24, attention_head_dim=128,
                    joint_attention_dim=7680, in_channels=128, guidance_embeds=False)  # fmt: skip
        tiny = dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
                    num_attention_heads=2, joint_attention_dim=48, axes_dims_rope=(4, 4, 4, 4),
                    guidance_embeds=False)  # fmt: skip
    elif family == "flux2":
        full = {}  # Flux2Transformer2DModel's defaults are FLUX.2 [dev]'s 32.2 B configuration
        tiny = dict(
            patch_size=1,
            in_channels=16,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=48,
            axes_dims_rope=(4, 4, 4, 4),
        )
    else:
        full = {}  # QwenImageTransformer2DModel's defaults are Qwen-Image's 20.4 B configuration
        tiny = dict(patch_size=2, in_channels=16, out_channels=4, num_layers=2, attention_head_dim=16,
                    num_attention_heads=2, joint_attention_dim=16, axes_dims_rope=(8, 4, 4))  # fmt: skip
    return full if scale == "full" else tiny


def _model_class(family: str):
    import diffusers

    return getattr(
        diffusers,
        {
            "zimage": "ZImageTransformer2DModel",
            "flux2_klein": "Flux2Transformer2DModel",
            "flux2": "Flux2Transformer2DModel",
            "qwen_image": "QwenImageTransformer2DModel",
        }[family],
    )


def _quantize_nf4(model, dtype):
    """Every Linear becomes a bitsandbytes NF4 layer (what `quantize_base` loads), quantised on the GPU."""
    import bitsandbytes as bnb
    import torch

    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                q = bnb.nn.Linear4bit(
                    child.in_features,
                    child.out_features,
                    bias=child.bias is not None,
                    compute_dtype=dtype,
                    quant_type="nf4",
                )
                q.weight = bnb.nn.Params4bit(child.weight.data.cpu(), requires_grad=False, quant_type="nf4")
                if child.bias is not None:
                    q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                setattr(module, child_name, q.cuda())
    return model


def _inputs(family: str, config, batch: int, resolution: int, scale: str, device, dtype):
    """Random latents and text embeddings of the shapes the trainer feeds this family."""
    import torch

    from plugins.training.diffusers_trainer.families import Encoded

    side = resolution // 8 if scale == "full" else 32
    tokens = TEXT_TOKENS[family] if scale == "full" else 16
    if family == "zimage":
        latents = torch.randn(batch, config.in_channels, side, side)
        texts = [Encoded({"prompt_embeds": torch.randn(tokens, config.cap_feat_dim)}) for _ in range(batch)]
    elif family in ("flux2_klein", "flux2"):
        latents = torch.randn(batch, config.in_channels, side // 2, side // 2)
        embeds = torch.randn(1, tokens, config.joint_attention_dim)
        from diffusers import Flux2KleinPipeline

        ids = Flux2KleinPipeline._prepare_text_ids(embeds)
        texts = [Encoded({"prompt_embeds": embeds, "text_ids": ids}) for _ in range(batch)]
    else:
        latents = torch.randn(batch, config.out_channels, side, side)
        texts = [
            Encoded(
                {
                    "prompt_embeds": torch.randn(1, tokens, config.joint_attention_dim),
                    "mask": torch.ones(1, tokens, dtype=torch.long),
                }
            )
            for _ in range(batch)
        ]
    return latents.to(device), texts


def measure(family: str, preset, *, scale: str, steps: int) -> dict:
    import torch
    from peft import LoraConfig

    from plugins.training.diffusers_trainer.families import FAMILIES as RECIPES
    from plugins.training.diffusers_trainer.families import Loaded

    cuda = torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    p = preset.training_params()
    recipe = RECIPES[family]()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    with torch.device(device):
        model = _model_class(family)(**_config(family, scale)).to(dtype)
    quantized = bool(p.quantize_base and cuda)
    if quantized:
        model = _quantize_nf4(model, dtype)
    model.requires_grad_(False)
    model.add_adapter(LoraConfig(r=p.rank, lora_alpha=p.alpha, init_lora_weights="gaussian",
                                 target_modules=recipe.target_modules(False)))  # fmt: skip
    for param in model.parameters():
        if param.requires_grad:
            param.data = param.data.float()
    if p.gradient_checkpointing:
        model.enable_gradient_checkpointing()
    model.train()
    pipe = recipe.pipeline_class()  # the family's packing helpers are static methods
    loaded = Loaded(pipe, model, 8 if scale == "full" else 2, dtype=dtype)
    trainable = [param for param in model.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=p.learning_rate)
    latents, texts = _inputs(family, model.config, p.batch_size, p.resolution, scale, device, dtype)
    generator = torch.Generator().manual_seed(0)

    def train_step() -> None:
        loss = recipe.loss(loaded, latents, texts, [], generator, p)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def timed(fn, n: int) -> float:
        fn()  # warm-up (kernels, allocator)
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(n):
            fn()
        if cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - started) / n

    train_s = timed(train_step, steps)
    train_peak = torch.cuda.max_memory_allocated() / 1024**3 if cuda else None
    model.eval()

    def generate_step() -> None:
        with torch.no_grad():
            recipe.loss(loaded, latents[:1], texts[:1], [], generator, p)

    gen_s = timed(generate_step, max(2, steps // 2))
    out = {
        "family": family,
        "preset": preset.id,
        "scale": scale,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "parameters_b": round(sum(x.numel() for x in model.parameters()) / 1e9, 3),
        "quantized_nf4": quantized,
        "resolution": p.resolution,
        "rank": p.rank,
        "batch": p.batch_size,
        "gradient_checkpointing": p.gradient_checkpointing,
        "train_s_per_step": round(train_s, 4),
        "generate_s_per_step": round(gen_s, 4),
        "peak_gb": round(train_peak, 2) if train_peak is not None else None,
        "preset_peak_gb": preset.peak_gb,
    }
    return out  # the model and optimiser go with this frame; main() collects them


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["full", "tiny"], default=None, help="default: full on a GPU")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--family", action="append", choices=FAMILIES)
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: reports/)")
    args = parser.parse_args(argv)
    import torch

    from isengard.training.presets import load_presets

    scale = args.scale or ("full" if torch.cuda.is_available() else "tiny")
    rows = []
    for preset in load_presets():
        if preset.family in (args.family or FAMILIES):
            row = measure(preset.family, preset, scale=scale, steps=args.steps)
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            rows.append(row)
            print(
                f"{row['preset']:<18} {row['parameters_b']:>7} B  train {row['train_s_per_step']:.3f} s/step  "
                f"generate {row['generate_s_per_step']:.3f} s/step  peak {row['peak_gb']} GB",
                flush=True,
            )
    report = {"scale": scale, "steps": args.steps, "presets": rows}
    _common.write_report("gpu_presets" if scale == "full" else "gpu_presets_tiny", report, args.out)
    return report


if __name__ == "__main__":
    main()
