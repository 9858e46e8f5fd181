"""ai-toolkit job configs: built from Isengard's training request, checked key by key before launching.

ai-toolkit silently ignores keys it does not know (a typo such as `stpes` trains with the default), so
every key written here must be in SCHEMA — the documented schema (toolkit/config_modules.py, the example
configs and the UI's default job, ai-toolkit commit 27a03a9), less the keys its trainer never reads
(`process.device`: accelerate picks the device; CPU is forced with `CUDA_VISIBLE_DEVICES=`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ANY = None  # a leaf whose value is free-form

SCHEMA: dict[str, Any] = {
    "job": ANY,
    "config": {
        "name": ANY,
        "process": [
            {
                "type": ANY,
                "training_folder": ANY,
                "trigger_word": ANY,
                "performance_log_every": ANY,
                "network": {
                    "type": ANY,
                    "linear": ANY,
                    "linear_alpha": ANY,
                    "rank": ANY,
                    "conv": ANY,
                    "conv_alpha": ANY,
                    "dropout": ANY,
                },
                "save": {
                    "dtype": ANY,
                    "save_every": ANY,
                    "max_step_saves_to_keep": ANY,
                    "push_to_hub": ANY,
                    "hf_repo_id": ANY,
                    "hf_private": ANY,
                    "save_format": ANY,
                },
                "datasets": [
                    {
                        "folder_path": ANY,
                        "caption_ext": ANY,
                        "caption_dropout_rate": ANY,
                        "shuffle_tokens": ANY,
                        "cache_latents_to_disk": ANY,
                        "resolution": ANY,
                        "num_workers": ANY,
                    }
                ],
                "train": {
                    "batch_size": ANY,
                    "steps": ANY,
                    "gradient_accumulation_steps": ANY,
                    "gradient_accumulation": ANY,
                    "train_unet": ANY,
                    "train_text_encoder": ANY,
                    "gradient_checkpointing": ANY,
                    "noise_scheduler": ANY,
                    "optimizer": ANY,
                    "lr": ANY,
                    "optimizer_params": ANY,
                    "lr_scheduler": ANY,
                    "max_grad_norm": ANY,
                    "noise_offset": ANY,
                    "min_snr_gamma": ANY,
                    "timestep_type": ANY,
                    "unload_text_encoder": ANY,
                    "cache_text_embeddings": ANY,
                    "skip_first_sample": ANY,
                    "disable_sampling": ANY,
                    "linear_timesteps": ANY,
                    "ema_config": {"use_ema": ANY, "ema_decay": ANY},
                    "dtype": ANY,
                },
                "model": {
                    "name_or_path": ANY,
                    "is_flux": ANY,
                    "quantize": ANY,
                    "quantize_te": ANY,
                    "qtype": ANY,
                    "qtype_te": ANY,
                    "low_vram": ANY,
                    "arch": ANY,
                    # toolkit/config_modules.py ModelConfig: the Turbo training adapter ("assistant" LoRA,
                    # merged while training, inverted for samples) and where single files take extras from
                    "assistant_lora_path": ANY,
                    "extras_name_or_path": ANY,
                },
                "sample": {
                    "sampler": ANY,
                    "sample_every": ANY,
                    "width": ANY,
                    "height": ANY,
                    "prompts": ANY,
                    "neg": ANY,
                    "seed": ANY,
                    "walk_seed": ANY,
                    "guidance_scale": ANY,
                    "sample_steps": ANY,
                    "format": ANY,
                    "network_multiplier": ANY,
                    "guidance_rescale": ANY,
                },
                "logging": {
                    "log_every": ANY,
                    "use_wandb": ANY,
                    "use_ui_logger": ANY,
                    "project_name": ANY,
                    "run_name": ANY,
                },
            }
        ],
    },
    "meta": {"name": ANY, "version": ANY},
}
OPTIMIZERS = {"adamw": "adamw", "adamw8bit": "adamw8bit", "prodigy": "prodigy"}
# ai-toolkit's `model.arch` names (FLUX.1 is `is_flux: true` instead)
ARCH = {"sdxl": "sdxl", "sd15": "sd1", "flux2_klein": "flux2_klein_4b", "flux2": "flux2", "zimage": "zimage",
        "qwen_image": "qwen_image"}  # fmt: skip
# sample guidance as ai-toolkit reads it: standard CFG for every family (it turns Z-Image's into max(0, g-1))
GUIDANCE = {"flux": 4, "sdxl": 6, "sd15": 7, "flux2_klein": 4, "flux2": 4, "zimage": 3, "qwen_image": 4}
# the newer families use ai-toolkit's UI default timestep distribution for them
WEIGHTED_TIMESTEPS = {"flux2_klein", "flux2", "zimage", "qwen_image"}


def unknown_keys(config: Any, schema: Any = SCHEMA, path: str = "") -> list[str]:
    """Every key in `config` that the schema does not document (as dotted paths)."""
    if schema is ANY:
        return []
    if isinstance(schema, list):
        out = []
        for index, item in enumerate(config if isinstance(config, list) else []):
            out += unknown_keys(item, schema[0], f"{path}[{index}]")
        return out
    if not isinstance(config, dict):
        return []
    out = []
    for key, value in config.items():
        where = f"{path}.{key}" if path else key
        if key not in schema:
            out.append(where)
        else:
            out += unknown_keys(value, schema[key], where)
    return out


def resolutions(resolution: int, buckets: bool) -> list[int]:
    """ai-toolkit trains at several sizes when given several (multi-resolution buckets)."""
    if not buckets or resolution <= 512:
        return [resolution]
    return sorted(
        {max(256, (resolution * 2 // 3) // 64 * 64), max(256, (resolution * 3 // 4) // 64 * 64), resolution}
    )


def build_config(request, *, dataset_dir: Path, training_folder: Path, cuda: bool) -> dict[str, Any]:
    """The job file for a LoRA of any family ai-toolkit trains (see its config/examples/
    train_lora_flux_24gb.yaml and the arch blocks its UI writes for FLUX.2 [klein], Z-Image and Qwen-Image)."""
    p = request.params
    family = request.base.family
    flux = family not in ("sdxl", "sd15")  # flow matching
    trigger = request.trigger_word
    network: dict[str, Any] = {"type": "lora", "linear": p.rank, "linear_alpha": p.alpha}
    if p.train_conv and not flux:
        network.update(conv=p.conv_rank, conv_alpha=p.conv_rank)
    sample_every = p.sample_every or p.steps
    train: dict[str, Any] = {
        "batch_size": p.batch_size,
        "steps": p.steps,
        "gradient_accumulation_steps": 1,
        "train_unet": True,
        "train_text_encoder": False,
        "gradient_checkpointing": p.gradient_checkpointing,
        "noise_scheduler": "flowmatch" if flux else "ddpm",
        "optimizer": OPTIMIZERS[p.optimizer],
        "lr": 1.0 if p.optimizer == "prodigy" else p.learning_rate,
        "lr_scheduler": p.lr_scheduler,
        "dtype": "bf16"
        if cuda and p.mixed_precision == "bf16"
        else ("fp16" if cuda and p.mixed_precision == "fp16" else "fp32"),
    }
    if not p.sample_every:
        train["disable_sampling"] = True
    if family in WEIGHTED_TIMESTEPS:
        train["timestep_type"] = "weighted"
    model: dict[str, Any] = {
        "name_or_path": _model_path(request.base),
        "quantize": bool(p.quantize_base and cuda),
        "low_vram": bool(p.low_vram),
    }
    adapter = request.base.training_adapter
    if family == "flux":
        model["is_flux"] = True
    elif family in ("sdxl", "sd15"):
        model.update(arch=ARCH[family], quantize_te=False)
    else:
        model.update(arch=ARCH[family], quantize_te=bool(p.quantize_base and cuda))
        if adapter:  # Z-Image Turbo: ai-toolkit merges it for training and inverts it for samples
            model["assistant_lora_path"] = str(adapter)
            if model["quantize"]:
                model["qtype"] = "float8"  # what ai-toolkit itself switches to with an assistant adapter
    prompts = [
        prompt.replace(trigger, "[trigger]")
        for prompt in (request.sample_prompts or [f"a photo of {trigger}"])
    ]
    process = {
        "type": "sd_trainer",
        "training_folder": str(training_folder),
        "trigger_word": trigger,
        "network": network,
        "save": {
            "dtype": "float16",
            "save_every": p.save_every,
            "max_step_saves_to_keep": p.max_checkpoints,
            "push_to_hub": False,
        },
        "datasets": [
            {
                "folder_path": str(dataset_dir),
                "caption_ext": "txt",
                "caption_dropout_rate": p.caption_dropout,
                "shuffle_tokens": False,
                "cache_latents_to_disk": True,
                "resolution": resolutions(p.resolution, p.buckets),
                **({} if cuda else {"num_workers": 0}),
            }
        ],
        "train": train,
        "model": model,
        "sample": {
            "sampler": "flowmatch" if flux else "ddpm",
            "sample_every": sample_every,
            "width": p.resolution,
            "height": p.resolution,
            "prompts": prompts,
            "neg": "",
            "seed": p.seed,
            "walk_seed": True,
            "guidance_scale": 1 if adapter else GUIDANCE[family],  # Turbo samples without CFG
            "sample_steps": p.sample_steps,
        },
        "logging": {"log_every": 1, "use_ui_logger": True},
    }
    return {
        "job": "extension",
        "config": {"name": request.name, "process": [process]},
        "meta": {"name": "[name]", "version": "1.0"},
    }


def _model_path(base) -> str:
    """ai-toolkit's FLUX.2 loaders read BFL's single files from the hub repo, which Isengard's diffusers-layout
    download skips: give them the repo id (ai-toolkit fetches it into the same HF cache). Every other family
    loads from the local diffusers folder."""
    hub = "/" in base.source and not base.source.startswith(("tiny:", "/")) and not base.single_file
    if base.family in ("flux2_klein", "flux2") and hub:
        return base.source
    return str(base.local_path or base.source)
