"""One command that answers the GPU questions, on one GPU, in at most eight minutes.

For every family at full size with random weights (nothing downloaded; weight values change neither memory
nor speed), smallest first: the time to build the denoiser on the GPU; for each training preset the GPU
can run, at 512 and 1024 px, the peak memory and seconds per step of real LoRA training steps through the
built-in trainer's own family recipe, with the memory model's prediction beside each measured peak;
generation seconds per picture at 1024² (the family's denoising steps, with classifier-free guidance where
the family uses it, and the VAE's decode); and the cold start of one base saved to disk (load straight to
the GPU → first step). Writes reports/gpu_check.json and prints one screen.

It needs only PyTorch, transformers and accelerate (what the lent GPU machine has) plus diffusers and peft
carried as wheels: `python bench/gpu_check.py --wheels DIR` downloads them (pins from requirements.txt) on a
machine that has the registry and prints the line that installs them there. Without bitsandbytes the 4-bit
presets are reported as "not measured here", and 8-bit AdamW is measured as AdamW (the prediction too).
On a CPU it runs at tiny scale (`--scale tiny`; the test suite does), so it cannot rot.

Usage: python bench/gpu_check.py [--scale full|tiny] [--budget-s 450] [--steps 3] [--family F ...]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import _common

ORDER = ("sd15", "sdxl", "flux2_klein", "zimage", "flux", "qwen_image", "flux2")  # smallest first
RESOLUTIONS = (512, 1024)
COLD_START_FAMILY = "flux2_klein"
WHEELS = ("diffusers", "peft")
WHEEL_LIMIT_MB = 60
TINY = {  # the tiny test models' shapes (isengard/tiny), for the CPU run
    "flux": ("FluxTransformer2DModel", dict(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
             attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
             guidance_embeds=True, axes_dims_rope=(4, 4, 8))),
    "sd15": ("UNet2DConditionModel", dict(sample_size=32, block_out_channels=(32, 64), layers_per_block=1,
             down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D",
             "CrossAttnUpBlock2D"), cross_attention_dim=32, attention_head_dim=(2, 4), norm_num_groups=4)),
    "sdxl": ("UNet2DConditionModel", dict(sample_size=32, block_out_channels=(32, 64), layers_per_block=1,
             down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D",
             "UpBlock2D"), attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 1),
             cross_attention_dim=64, addition_embed_type="text_time", addition_time_embed_dim=8,
             projection_class_embeddings_input_dim=80, norm_num_groups=4)),
    "zimage": ("ZImageTransformer2DModel", dict(all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=32,
               n_layers=2, n_refiner_layers=1, n_heads=2, n_kv_heads=2, cap_feat_dim=16, axes_dims=[8, 4, 4],
               axes_lens=[256, 32, 32])),
    "flux2_klein": ("Flux2Transformer2DModel", dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                    attention_head_dim=16, num_attention_heads=2, joint_attention_dim=48, axes_dims_rope=(4, 4, 4, 4),
                    guidance_embeds=False)),
    "flux2": ("Flux2Transformer2DModel", dict(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
              attention_head_dim=16, num_attention_heads=2, joint_attention_dim=48, axes_dims_rope=(4, 4, 4, 4))),
    "qwen_image": ("QwenImageTransformer2DModel", dict(patch_size=2, in_channels=16, out_channels=4, num_layers=2,
                   attention_head_dim=16, num_attention_heads=2, joint_attention_dim=16, axes_dims_rope=(8, 4, 4))),
}  # fmt: skip
TINY_VAE = ("AutoencoderKL", dict(block_out_channels=(8, 8), layers_per_block=1, norm_num_groups=4,
            down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2))  # fmt: skip


def importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class Check:
    def __init__(self, scale: str, steps: int, budget_s: float):
        import torch

        self.scale, self.steps, self.budget_s = scale, steps, budget_s
        self.cuda = torch.cuda.is_available()
        self.device = "cuda" if self.cuda else "cpu"
        self.dtype = torch.bfloat16 if self.cuda else torch.float32
        self.started = time.monotonic()
        self.total_gb = torch.cuda.get_device_properties(0).total_memory / 1e9 if self.cuda else None
        self.has_bnb = self.cuda and importable("bitsandbytes")  # its 4-bit and 8-bit kernels are CUDA's

    # building -------------------------------------------------------------------------------------------
    def spec(self, family: str):
        from plugins.training.diffusers_trainer.memory_facts import DENOISERS

        return (DENOISERS if self.scale == "full" else TINY)[family]

    def build(self, family: str):
        """The denoiser at this scale, random weights made directly on the device in its dtype."""
        import diffusers
        import torch

        name, config = self.spec(family)
        previous = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)
        try:
            with torch.device(self.device):
                model = getattr(diffusers, name)(**config)
        finally:
            torch.set_default_dtype(previous)
        return model

    def build_nf4(self, family: str):
        """The denoiser with every Linear in bitsandbytes' NF4 (what `quantize_base` loads), on the GPU."""
        import bitsandbytes as bnb
        import torch

        model = self.build(family)
        for module in list(model.modules()):
            for child_name, child in list(module.named_children()):
                if isinstance(child, torch.nn.Linear):
                    q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=child.bias is not None,
                                          compute_dtype=self.dtype, quant_type="nf4")  # fmt: skip
                    q.weight = bnb.nn.Params4bit(
                        child.weight.data.cpu(), requires_grad=False, quant_type="nf4"
                    )
                    if child.bias is not None:
                        q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                    setattr(module, child_name, q.to(self.device))
        return model

    def left_s(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    # one training setting ------------------------------------------------------------------------------
    def train(self, family: str, model, params) -> dict:
        import torch
        from peft import LoraConfig

        from isengard.memory import training_memory
        from plugins.training.diffusers_trainer.memory_facts import _recipe

        model.requires_grad_(False)
        name = f"check{params.rank}"
        model.add_adapter(LoraConfig(r=params.rank, lora_alpha=params.alpha, init_lora_weights="gaussian",
                                     target_modules=_recipe(family).target_modules(False)), adapter_name=name)  # fmt: skip
        trainable = [p for p in model.parameters() if p.requires_grad]
        for p in trainable:
            p.data = p.data.float()
        (
            model.enable_gradient_checkpointing
            if params.gradient_checkpointing
            else model.disable_gradient_checkpointing
        )()
        model.train()
        if params.optimizer == "adamw8bit":
            import bitsandbytes as bnb

            optimizer = bnb.optim.AdamW8bit(trainable, lr=params.learning_rate)
        else:
            fused = {"fused": True} if self.cuda else {}
            optimizer = torch.optim.AdamW(trainable, lr=params.learning_rate, **fused)
        loss_fn = self.loss(family, model, params.resolution, params.batch_size)

        def step() -> None:
            loss_fn().backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        try:
            seconds, peak = self.timed(step, self.steps)
        finally:
            optimizer = trainable = None  # freed before the cache is emptied
            model.delete_adapters(name)
            gc.collect()
            if self.cuda:
                torch.cuda.empty_cache()
        estimate = training_memory(family, params)
        parts = estimate.phase("training").parts
        predicted = sum(v for k, v in parts.items() if k not in ("vae", "runtime"))  # what the step allocates
        return {
            "s_per_step": round(seconds, 4),
            "peak_gb": round(peak, 2) if peak is not None else None,
            "predicted_gb": round(predicted, 2),
            "measured_over_predicted": round(peak / predicted, 3) if peak else None,
        }

    def loss(self, family: str, model, resolution: int, batch: int):
        """A closure: one training loss on random latents and text of this family's shapes."""
        import torch

        from plugins.training.diffusers_trainer.families import Encoded, Loaded
        from plugins.training.diffusers_trainer.memory_facts import TEXT_TOKENS, _inputs, _recipe

        side = resolution // 8 if self.scale == "full" else 8
        tokens = TEXT_TOKENS[family] if self.scale == "full" else 8
        generator = torch.Generator().manual_seed(0)
        config = model.config
        if family in ("sd15", "sdxl"):
            latents = torch.randn(batch, 4, side, side, device=self.device, dtype=self.dtype)
            text = torch.randn(
                batch, tokens, config.cross_attention_dim, device=self.device, dtype=self.dtype
            )
            cond = {}
            if family == "sdxl":
                pooled = config.projection_class_embeddings_input_dim - 6 * config.addition_time_embed_dim
                cond = {"text_embeds": torch.randn(batch, pooled, device=self.device, dtype=self.dtype),
                        "time_ids": torch.randn(batch, 6, device=self.device, dtype=self.dtype)}  # fmt: skip
            t = torch.randint(0, 1000, (batch,), device=self.device)
            return lambda: torch.nn.functional.mse_loss(
                model(latents, t, encoder_hidden_states=text, added_cond_kwargs=cond).sample.float(),
                latents.float(),
            )
        recipe = _recipe(family)
        latents, texts = _inputs(family, config, side, tokens)
        texts = {k: (torch.randn_like(v) if v.is_floating_point() else v) for k, v in texts.items()}
        loaded = Loaded(recipe.pipeline_class(), model, 8, dtype=self.dtype)
        latents = torch.randn(batch, *latents.shape[1:]).to(self.device)
        encoded = [Encoded(texts) for _ in range(batch)]

        class Params:
            guidance = 1.0

        return lambda: recipe.loss(loaded, latents, encoded, [], generator, Params())

    def timed(self, fn, n: int) -> tuple[float, float | None]:
        import torch

        fn()  # warm-up: kernels, allocator
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        for _ in range(n):
            fn()
        if self.cuda:
            torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 1e9 if self.cuda else None
        return (time.perf_counter() - started) / n, peak

    # generation --------------------------------------------------------------------------------------
    def generation(self, family: str, model) -> dict:
        import diffusers
        import torch

        from isengard.memory.estimate import CFG_FAMILIES
        from plugins.families import FAMILY_INFO
        from plugins.training.diffusers_trainer.memory_facts import VAES

        model.eval()
        batch = 2 if family in CFG_FAMILIES else 1
        forward = self.loss(family, model, 1024, batch)
        with torch.no_grad():
            per_step, _ = self.timed(forward, max(1, self.steps))
        name, config = VAES[family] if self.scale == "full" else TINY_VAE
        previous = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)
        try:
            with torch.device(self.device):
                vae = getattr(diffusers, name)(**config).eval()
        finally:
            torch.set_default_dtype(previous)
        side = 1024 // 8 if self.scale == "full" else 8
        channels = vae.config.latent_channels
        shape = (1, channels, 1, side, side) if "QwenImage" in name else (1, channels, side, side)
        latents = torch.randn(*shape, device=self.device, dtype=self.dtype)
        with torch.no_grad():
            decode_s, _ = self.timed(lambda: vae.decode(latents), 1)
        vae = None
        steps = FAMILY_INFO[family].steps
        return {
            "denoising_s_per_step": round(per_step, 4),
            "steps": steps,
            "passes_per_step": batch,
            "vae_decode_s": round(decode_s, 4),
            "s_per_picture": round(per_step * steps + decode_s, 2),
        }

    # cold start --------------------------------------------------------------------------------------
    def cold_start(self, family: str) -> dict:
        """A base saved to disk as safetensors, then loaded straight to the device: load → first step."""
        import diffusers
        import torch

        name, _ = self.spec(family)
        with tempfile.TemporaryDirectory() as folder:
            model = self.build(family)
            model.save_pretrained(folder, safe_serialization=True)
            del model
            gc.collect()
            if self.cuda:
                torch.cuda.empty_cache()
            started = time.perf_counter()
            loaded = getattr(diffusers, name).from_pretrained(
                folder, torch_dtype=self.dtype, device_map=self.device if self.cuda else None
            )
            load_s = time.perf_counter() - started
            step = self.loss(family, loaded, 512, 1)
            with torch.no_grad():
                step()
            if self.cuda:
                torch.cuda.synchronize()
            first = time.perf_counter() - started
        return {"family": family, "load_s": round(load_s, 2), "to_first_step_s": round(first, 2)}


def presets_for(check: Check, family: str) -> list[tuple[object, object, str]]:
    """(preset, the params measured, a note) for each preset of the family."""
    from isengard.training.presets import load_presets

    out = []
    for preset in load_presets():
        if preset.family != family or preset.tiny_only:
            continue
        params, note = preset.training_params(), ""
        if params.optimizer == "adamw8bit" and not check.has_bnb:
            params, note = (
                replace(params, optimizer="adamw"),
                "AdamW in place of 8-bit AdamW (no bitsandbytes here)",
            )
        out.append((preset, params, note))
    return out


def run(check: Check, families: list[str]) -> dict:
    import torch

    from isengard.memory import training_memory

    report: dict = {"families": {}}
    for family in families:
        entry: dict = {"presets": []}
        report["families"][family] = entry
        if check.left_s() < 30:
            entry["status"] = "not measured here: out of the time budget"
            continue
        started = time.perf_counter()
        model = check.build(family)
        if check.cuda:
            torch.cuda.synchronize()
        entry["build_s"] = round(time.perf_counter() - started, 2)
        entry["params_b"] = round(sum(p.numel() for p in model.parameters()) / 1e9, 3)
        for preset, params, note in presets_for(check, family):
            for resolution in RESOLUTIONS:
                row = {"preset": preset.id, "resolution": resolution, "note": note}
                measured = replace(params, resolution=resolution)
                predicted = training_memory(family, measured)
                if preset.params.get("quantize_base") and not check.has_bnb:
                    row["status"] = "not measured here: the 4-bit base needs bitsandbytes on an NVIDIA GPU"
                elif check.total_gb and predicted and predicted.phase("training").gb > check.total_gb * 0.95:
                    row["status"] = (
                        f"does not fit this GPU (predicted {predicted.phase('training').gb:.0f} GB)"
                    )
                elif check.left_s() < 20:
                    row["status"] = "not measured here: out of the time budget"
                else:
                    try:
                        target = check.build_nf4(family) if measured.quantize_base else model
                        row |= check.train(family, target, measured) | {"status": "measured"}
                        target = None
                    except torch.cuda.OutOfMemoryError:
                        row["status"] = "ran out of memory"
                        gc.collect()
                        torch.cuda.empty_cache()
                entry["presets"].append(row)
        if check.left_s() > 15:
            entry["generation_1024"] = check.generation(family, model)
        del model
        gc.collect()
        if check.cuda:
            torch.cuda.empty_cache()
    if check.left_s() > 40 and COLD_START_FAMILY in families:
        report["cold_start"] = check.cold_start(COLD_START_FAMILY)
    return report


def screen(report: dict) -> None:
    print(f"\n{report['device']} · {report.get('memory_gb') or '-'} GB · torch {report['versions']['torch']}")
    for family, entry in report["families"].items():
        head = f"{family:<12} {entry.get('params_b', '-')} B params, built in {entry.get('build_s', '-')} s"
        gen = entry.get("generation_1024")
        if gen:
            head += f"; a 1024² picture {gen['s_per_picture']} s ({gen['steps']} steps)"
        print(head if "status" not in entry else f"{family:<12} {entry['status']}")
        for row in entry["presets"]:
            if row["status"] == "measured":
                peak = f"{row['peak_gb']} GB" if row["peak_gb"] is not None else "-"
                print(f"  {row['preset']:<18} {row['resolution']:>5} px  {row['s_per_step']:>8.3f} s/step  "
                      f"peak {peak:>9}  model {row['predicted_gb']:>6} GB")  # fmt: skip
            else:
                print(f"  {row['preset']:<18} {row['resolution']:>5} px  {row['status']}")
    if "cold_start" in report:
        c = report["cold_start"]
        print(
            f"cold start ({c['family']}): loaded in {c['load_s']} s, first step after {c['to_first_step_s']} s"
        )
    print(f"took {report['seconds']} s")


def pins() -> dict[str, str]:
    lines = (_common.ROOT / "requirements.txt").read_text().splitlines()
    found = dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))
    return {name: found[name].strip() for name in WHEELS}


def wheel_command(folder: Path) -> list[str]:
    """pip's download of the carried wheels for the GPU machine's Python 3.12 (both are pure Python)."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
            "--implementation", "cp", "-d", str(folder), *(f"{n}=={v}" for n, v in pins().items())]  # fmt: skip


def wheels(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(wheel_command(folder), check=True)
    files = sorted(folder.glob("*.whl"))
    total = sum(f.stat().st_size for f in files) / 2**20
    for f in files:
        print(f"{f.name}  {f.stat().st_size / 2**20:.1f} MiB")
    print(f"{total:.1f} MiB in all (at most {WHEEL_LIMIT_MB}); on the GPU machine:")
    print(f"  python3 -m pip install -q --no-index --no-deps --target /tmp/site {folder}/*.whl && "
          "PYTHONPATH=/tmp/site:. python3 bench/gpu_check.py")  # fmt: skip
    return 0 if total <= WHEEL_LIMIT_MB else 1


def main(argv: list[str] | None = None) -> dict | int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["full", "tiny"], default=None, help="default: full on a GPU")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (after one warm-up)")
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting new work after this")
    parser.add_argument("--family", action="append", choices=ORDER)
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: reports/)")
    parser.add_argument("--wheels", type=Path, default=None, help="download the wheels to carry into DIR")
    args = parser.parse_args(argv)
    if args.wheels:
        return wheels(args.wheels)
    import torch

    scale = args.scale or ("full" if torch.cuda.is_available() else "tiny")
    check = Check(scale, args.steps, args.budget_s)
    versions = {"torch": torch.__version__}
    for name in ("diffusers", "peft", "transformers", "accelerate", "bitsandbytes"):
        versions[name] = importlib.import_module(name).__version__ if importable(name) else "not installed"
    report = {
        "scale": scale,
        "device": torch.cuda.get_device_name() if check.cuda else "CPU",
        "memory_gb": round(check.total_gb, 1) if check.total_gb else None,
        "versions": versions,
        **run(check, [f for f in ORDER if f in (args.family or ORDER)]),
        "seconds": round(time.monotonic() - check.started, 1),
    }
    name = "gpu_check" if scale == "full" else "gpu_check_tiny"
    _common.write_report(name, report, args.out, quiet=True)
    screen(report)
    return report


if __name__ == "__main__":
    result = main()
    sys.exit(result if isinstance(result, int) else 0)
