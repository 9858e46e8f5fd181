"""LoRA file conventions shared by the trainers, the image backends and the core LoRA store.

* FLUX: diffusers/peft keys `transformer.<module>.lora_A.weight` / `.lora_B.weight` (+ optional `.alpha`),
  which diffusers, ComfyUI and ai-toolkit all read.
* SDXL / SD 1.5: kohya keys `lora_unet_<module with _>.lora_down.weight` / `.lora_up.weight` / `.alpha`,
  which diffusers, ComfyUI and A1111/Forge all read.
Metadata: our own `isengard_*` keys plus kohya's `ss_*` keys that Civitai and A1111 display.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from plugins.families import FAMILIES, FAMILY_INFO

FAMILY_META_KEY = "isengard_family"
SS_BASE_VERSION = {name: info.ss_base for name, info in FAMILY_INFO.items()}
# longest first: "flux2_klein" must not read as "flux2", nor "flux2" as "flux"
_SS_TO_FAMILY = dict(
    sorted(
        ({**{v: k for k, v in SS_BASE_VERSION.items()}, "flux": "flux", "sd1": "sd15", "v1": "sd15"}).items(),
        key=lambda kv: -len(kv[0]),
    )
)


class LoraFileError(ValueError):
    """The file is not a LoRA we can read (corrupt, empty, not safetensors)."""


@dataclass
class LoraInfo:
    path: Path
    family: str | None
    key_format: str  # "peft" | "kohya" | "diffusers-legacy" | "unknown"
    rank: int | None
    tensors: int
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def trigger_word(self) -> str | None:
        return self.metadata.get("isengard_trigger_word") or self.metadata.get("ss_trigger_word") or None


def kohya_name(module_path: str, prefix: str = "lora_unet") -> str:
    """`down_blocks.0.attentions.0...to_q` -> `lora_unet_down_blocks_0_attentions_0_..._to_q`."""
    return f"{prefix}_{module_path.replace('.', '_')}"


def read_lora_info(path: Path) -> LoraInfo:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise LoraFileError(f"{path.name} does not exist.")
    if path.stat().st_size < 16:
        raise LoraFileError(f"{path.name} is empty or truncated, not a LoRA file.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            keys = list(handle.keys())
            shapes = {k: tuple(handle.get_slice(k).get_shape()) for k in keys}
    except Exception as exc:
        raise LoraFileError(f"{path.name} is not a readable .safetensors LoRA ({exc}).") from None
    if not keys:
        raise LoraFileError(f"{path.name} holds no tensors.")
    key_format = detect_key_format(keys)
    if key_format == "unknown":
        raise LoraFileError(f"{path.name} has no LoRA weights (no lora_A/lora_B or lora_down/lora_up keys).")
    return LoraInfo(
        path=path,
        family=detect_family(keys, metadata, shapes),
        key_format=key_format,
        rank=_rank(shapes),
        tensors=len(keys),
        metadata=metadata,
    )


def detect_key_format(keys: list[str]) -> str:
    if any(".lora_A." in k or ".lora_B." in k for k in keys):
        return "peft"
    if any(".lora_down." in k or ".lora_up." in k for k in keys):
        return "kohya" if any(k.startswith("lora_") for k in keys) else "diffusers-legacy"
    if any(".lora.down." in k or ".lora.up." in k for k in keys):
        return "diffusers-legacy"
    return "unknown"


def detect_family(
    keys: list[str], metadata: dict[str, str], shapes: dict[str, tuple] | None = None
) -> str | None:
    """The base-model family a LoRA was trained for: metadata first, then key structure, then shapes."""
    if metadata.get(FAMILY_META_KEY) in FAMILIES:
        return metadata[FAMILY_META_KEY]
    ss = metadata.get("ss_base_model_version", "").lower()
    for prefix, family in _SS_TO_FAMILY.items():
        if ss.startswith(prefix):
            return family
    joined = "\n".join(keys)
    newer = _newer_transformer_family(joined, shapes or {})
    if newer:
        return newer
    if re.search(
        r"(^|\n)(transformer\.|lora_transformer_)|double_blocks|single_blocks|single_transformer_blocks",
        joined,
    ):
        return "flux"
    if "lora_te2_" in joined or "text_encoder_2" in joined:
        return "sdxl"
    if re.search(r"down_blocks[._]0[._]attentions|input_blocks_1_1_", joined):
        return "sd15"
    if re.search(r"down_blocks[._][12][._]attentions|input_blocks_[4578]_1_|add_embedding", joined):
        return "sdxl"
    if shapes:
        for key, shape in shapes.items():
            if (
                "attn2" in key
                and "to_k" in key
                and ("lora_down" in key or "lora_A" in key)
                and len(shape) == 2
            ):
                return {768: "sd15", 2048: "sdxl"}.get(shape[1])
    return None


def _newer_transformer_family(joined: str, shapes: dict[str, tuple]) -> str | None:
    """Z-Image, Qwen-Image and FLUX.2 from their module names (diffusers, ai-toolkit or kohya spelling)."""
    if re.search(r"noise_refiner|context_refiner|layers[._]\d+[._](attention|feed_forward|adaLN)", joined):
        return "zimage"
    if re.search(r"transformer_blocks[._]\d+[._](img_mlp|txt_mlp|img_mod|txt_mod)", joined) or re.search(
        r"(^|[._])transformer_blocks[._](19|[2-5]\d)[._]", joined.replace("single_transformer_blocks", "")
    ):
        return "qwen_image"  # FLUX.1 has 19 double blocks and no img_mlp in diffusers names; Qwen has 60
    flux2_names = re.search(r"to_qkv_mlp_proj|linear_in|stream_modulation", joined)
    bfl = re.search(r"double_blocks[._]\d+[._]img_attn[._]qkv", joined)
    if not flux2_names and not bfl:
        return None
    width = next(
        (
            shape[1]
            for key, shape in shapes.items()
            if re.search(r"(attn[._](to_q|qkv)|linear1)\.lora_(A|down)", key)
        ),
        None,
    )
    if bfl and not flux2_names:  # BFL layout: only FLUX.2's widths or its 9×-wide linear1 tell it from FLUX.1
        out = next(
            (shape[0] for key, shape in shapes.items() if re.search(r"linear1\.lora_(B|up)\.", key)), None
        )
        if width not in (4096, 6144) and not (width and out == 9 * width):
            return None
    return "flux2" if width == 6144 else "flux2_klein"


def _rank(shapes: dict[str, tuple]) -> int | None:
    for key, shape in shapes.items():
        if (".lora_down." in key or ".lora_A." in key) and shape:
            return int(shape[0])
    return None


def training_metadata(
    *,
    family: str,
    base_model: str,
    base_sha256: str | None,
    trigger_word: str,
    steps: int,
    rank: int,
    alpha: float,
    resolution: int,
    dataset_size: int,
    training_seconds: float,
    learning_rate: float,
    optimizer: str,
    backend: str,
    backend_version: str,
    name: str,
    extra: dict[str, object] | None = None,
) -> dict[str, str]:
    """Safetensors metadata: ours (`isengard_*`) and kohya's `ss_*` that Civitai and A1111 display."""
    meta = {
        FAMILY_META_KEY: family,
        "isengard_base_model": base_model,
        "isengard_base_model_sha256": base_sha256 or "",
        "isengard_trigger_word": trigger_word,
        "isengard_steps": str(steps),
        "isengard_rank": str(rank),
        "isengard_alpha": f"{alpha:g}",
        "isengard_resolution": str(resolution),
        "isengard_dataset_size": str(dataset_size),
        "isengard_training_seconds": f"{training_seconds:.1f}",
        "isengard_backend": f"{backend} {backend_version}",
        "ss_output_name": name,
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(rank),
        "ss_network_alpha": f"{alpha:g}",
        "ss_base_model_version": SS_BASE_VERSION[family],
        "ss_sd_model_name": base_model,
        "ss_new_sd_model_hash": base_sha256 or "",
        "ss_resolution": f"({resolution}, {resolution})",
        "ss_max_train_steps": str(steps),
        "ss_learning_rate": f"{learning_rate:g}",
        "ss_optimizer": optimizer,
        "ss_num_train_images": str(dataset_size),
        "ss_training_comment": f"trigger word: {trigger_word}",
        "ss_tag_frequency": json.dumps({"dataset": {trigger_word: dataset_size}}),
        "modelspec.architecture": FAMILY_INFO[family].modelspec,
        "modelspec.title": name,
        "modelspec.trigger_phrase": trigger_word,
    }
    for key, value in (extra or {}).items():
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    return meta
