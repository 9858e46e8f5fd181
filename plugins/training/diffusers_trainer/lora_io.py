"""Writing LoRA files that load everywhere, and the trainer state needed to resume.

* FLUX.1, FLUX.2, Z-Image, Qwen-Image (transformers) → diffusers/peft keys `transformer.<module>.lora_A.weight` / `.lora_B.weight`. lora_B is scaled by
  alpha/rank so the file's alpha equals its rank: ComfyUI reads no alpha here (scale 1) and diffusers
  reads `lora_adapter_metadata`; both then give the strength the trainer saw.
* SDXL / SD 1.5 → kohya keys `lora_unet_<module with _>.lora_down.weight` / `.lora_up.weight` / `.alpha`,
  which diffusers, ComfyUI and A1111/Forge read (diffusers-format SD keys do not load in ComfyUI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from plugins.families import family_info
from plugins.lora_format import kohya_name


def peft_state(model) -> dict[str, Any]:
    from peft.utils import get_peft_model_state_dict

    return {k: v.detach().float().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}


def export_tensors(
    family: str, state: dict[str, Any], alpha: float, conv_alpha: float, dtype
) -> dict[str, Any]:
    """The peft state dict in the file format of the family (see the module docstring).

    Linear layers use `alpha`; convolution layers (4-D weights, trained with their own rank) `conv_alpha`.
    """
    import torch

    out: dict[str, Any] = {}
    peft_keys = family_info(family).lora_keys == "peft"
    for module in sorted({k.rsplit(".lora_", 1)[0] for k in state}):
        down, up = state[f"{module}.lora_A.weight"], state[f"{module}.lora_B.weight"]
        rank = down.shape[0]
        module_alpha = conv_alpha if down.dim() == 4 else alpha
        if peft_keys:
            out[f"transformer.{module}.lora_A.weight"] = down.to(dtype)
            out[f"transformer.{module}.lora_B.weight"] = (up * (module_alpha / rank)).to(dtype)
        else:
            name = kohya_name(module)
            out[f"{name}.lora_down.weight"] = down.to(dtype)
            out[f"{name}.lora_up.weight"] = up.to(dtype)
            out[f"{name}.alpha"] = torch.tensor(module_alpha, dtype=dtype)
    return out


def save_lora(
    path: Path, family: str, model, metadata: dict[str, str], *, alpha: float, conv_alpha: float, dtype=None
) -> Path:
    """Write the LoRA file atomically (temp name, then rename)."""
    import torch
    from safetensors.torch import save_file

    dtype = dtype or torch.float16
    tensors = export_tensors(family, peft_state(model), alpha, conv_alpha, dtype)
    meta = dict(metadata)
    if family_info(family).lora_keys == "peft":
        config = model.peft_config["default"]
        targets = config.target_modules
        adapter = {
            "r": config.r,
            "lora_alpha": config.r,
            "target_modules": targets if isinstance(targets, str) else sorted(targets),
            "use_dora": False,
        }
        meta["lora_adapter_metadata"] = json.dumps({f"transformer.{k}": v for k, v in adapter.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
    return path


def save_state(path: Path, model, optimizer, scheduler, step: int, extra: dict[str, Any]) -> Path:
    """Everything needed to continue exactly: LoRA weights (peft keys, fp32), optimizer, LR schedule."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(
        {
            "step": step,
            "lora": peft_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            **extra,
        },
        tmp,
    )
    os.replace(tmp, path)
    return path


def load_state(path: Path) -> dict[str, Any]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)
