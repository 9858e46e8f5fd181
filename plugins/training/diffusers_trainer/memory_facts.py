"""What the built-in trainer keeps in GPU memory, measured on the real full-size architectures built on the
meta device (no weights, no memory, no download): `configs/architecture_memory.json`, which the core's
memory model (`isengard.memory`) reads.

Per family:
* each part's parameter count (denoiser, text encoders, VAE), and how much of the denoiser sits in Linear
  layers (what a 4-bit / 8-bit base quantises; the rest stays bf16);
* the LoRA's parameters per unit of rank, with this trainer's own target modules;
* the activations a training step keeps for its backward pass: this trainer's own loss run on meta
  tensors with `saved_tensors_hooks` counting every tensor autograd saves (each once), at 512 and 1024 px,
  with and without gradient checkpointing, and the largest single block (what checkpointing recomputes at
  once). Attention is counted as PyTorch's fused SDPA kernels keep it on a GPU (q, k, v, output and the
  log-sum-exp), not as the math fallback the meta device would run.

Regenerate after a diffusers upgrade or a new family: `python -m plugins.training.diffusers_trainer.memory_facts`
(a test rebuilds one family and compares, so the file cannot silently drift from the code).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[3] / "configs" / "architecture_memory.json"
RESOLUTIONS = (512, 1024)
TEXT_TOKENS = {"flux": 512, "sdxl": 77, "sd15": 77, "zimage": 128, "flux2_klein": 512, "flux2": 512,
               "qwen_image": 128}  # fmt: skip

# the released models' configurations (the classes' defaults where they are the release)
DENOISERS = {
    "flux": ("FluxTransformer2DModel", {"guidance_embeds": True}),
    "flux2": ("Flux2Transformer2DModel", {}),
    "flux2_klein": ("Flux2Transformer2DModel", dict(num_layers=5, num_single_layers=20, num_attention_heads=24,
                    attention_head_dim=128, joint_attention_dim=7680, in_channels=128, guidance_embeds=False)),
    "zimage": ("ZImageTransformer2DModel", {}),
    "qwen_image": ("QwenImageTransformer2DModel", {}),
    "sd15": ("UNet2DConditionModel", dict(cross_attention_dim=768, attention_head_dim=8)),
    "sdxl": ("UNet2DConditionModel", dict(
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(320, 640, 1280), transformer_layers_per_block=(1, 2, 10),
        attention_head_dim=(5, 10, 20), cross_attention_dim=2048, addition_embed_type="text_time",
        addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816, use_linear_projection=True,
        sample_size=128)),
}  # fmt: skip

CLIP_L = ("CLIPTextModel", "CLIPTextConfig", dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
          num_attention_heads=12, projection_dim=768))  # fmt: skip
CLIP_G = ("CLIPTextModelWithProjection", "CLIPTextConfig", dict(hidden_size=1280, intermediate_size=5120,
          num_hidden_layers=32, num_attention_heads=20, projection_dim=1280))  # fmt: skip
T5_XXL = ("T5EncoderModel", "T5Config", dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24,
          num_heads=64, feed_forward_proj="gated-gelu"))  # fmt: skip
QWEN3_4B = ("Qwen3Model", "Qwen3Config", dict(vocab_size=151936, hidden_size=2560, intermediate_size=9728,
            num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8, head_dim=128))  # fmt: skip
QWEN25_VL_7B_TEXT = ("Qwen2Model", "Qwen2Config", dict(vocab_size=152064, hidden_size=3584,
                     intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                     num_key_value_heads=4))  # fmt: skip
MISTRAL_SMALL_24B_TEXT = ("MistralModel", "MistralConfig", dict(vocab_size=131072, hidden_size=5120,
                          intermediate_size=32768, num_hidden_layers=40, num_attention_heads=32,
                          num_key_value_heads=8, head_dim=128))  # fmt: skip
TEXT_ENCODERS = {
    "flux": {"clip_l": CLIP_L, "t5_xxl": T5_XXL},
    "sdxl": {"clip_l": CLIP_L, "clip_g": CLIP_G},
    "sd15": {"clip_l": CLIP_L},
    "zimage": {"qwen3_4b": QWEN3_4B},
    "flux2_klein": {"qwen3_4b": QWEN3_4B},
    "flux2": {"mistral_small_24b": MISTRAL_SMALL_24B_TEXT},
    "qwen_image": {"qwen2_5_vl_7b": QWEN25_VL_7B_TEXT},
}
# a VL encoder's vision tower is not built here (the trainer never runs it on text): its published size
VISION_TOWERS_B = {"qwen_image": 0.68, "flux2": 0.44}
VAES = {
    "flux": ("AutoencoderKL", dict(latent_channels=16, block_out_channels=(128, 256, 512, 512),
             down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
             layers_per_block=2)),
    "zimage": ("AutoencoderKL", dict(latent_channels=16, block_out_channels=(128, 256, 512, 512),
               down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
             layers_per_block=2)),
    "sdxl": ("AutoencoderKL", dict(block_out_channels=(128, 256, 512, 512),
             down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
             layers_per_block=2)),
    "sd15": ("AutoencoderKL", dict(block_out_channels=(128, 256, 512, 512),
             down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
             layers_per_block=2)),
    "flux2_klein": ("AutoencoderKLFlux2", {}),
    "flux2": ("AutoencoderKLFlux2", {}),
    "qwen_image": ("AutoencoderKLQwenImage", {}),
}  # fmt: skip


@contextlib.contextmanager
def fused_attention():
    """SDPA as a GPU runs it (flash / memory-efficient kernels): autograd keeps q, k, v, the output and the
    log-sum-exp, never the attention matrix (which the meta device's math fallback would save)."""
    import torch
    import torch.nn.functional as F

    class Fused(torch.autograd.Function):
        @staticmethod
        def forward(ctx, q, k, v):
            out = torch.empty(*q.shape[:-1], v.shape[-1], device=q.device, dtype=q.dtype)
            lse = torch.empty(q.shape[:-1], device=q.device, dtype=torch.float32)
            ctx.save_for_backward(q, k, v, out, lse)
            return out

        @staticmethod
        def backward(ctx, grad):  # never run: the measure does not go backward
            q, k, v, _, _ = ctx.saved_tensors
            return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

    original = F.scaled_dot_product_attention

    def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if key.shape[-3] != query.shape[-3]:  # grouped-query attention: the kernels repeat k and v
            repeat = query.shape[-3] // key.shape[-3]
            key, value = key.repeat_interleave(repeat, -3), value.repeat_interleave(repeat, -3)
        return Fused.apply(query, key, value)

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def _count(module) -> tuple[int, int]:
    import torch

    total = sum(p.numel() for p in module.parameters())
    linear = sum(m.weight.numel() for m in module.modules() if isinstance(m, torch.nn.Linear))
    return total, linear


def _build(family: str):
    import diffusers
    import torch

    name, config = DENOISERS[family]
    with torch.device("meta"):
        return getattr(diffusers, name)(**config).to(torch.bfloat16)


def _recipe(family: str):
    from plugins.training.diffusers_trainer.families import FAMILIES as RECIPES

    return RECIPES[family]()


def _saved_bytes(family: str, model, resolution: int, checkpointing: bool) -> tuple[int, int]:
    """Bytes autograd keeps after one training forward at this resolution (batch 1); with checkpointing,
    also the most that one checkpointed unit keeps while the backward pass recomputes it."""
    import torch
    import torch.utils.checkpoint

    from plugins.training.diffusers_trainer.families import Encoded, Loaded

    kept: dict[int, torch.Tensor] = {}
    units = [0]

    def pack(tensor):
        kept[id(tensor)] = tensor  # a tensor saved by several ops is one tensor in memory (see _total)
        return tensor

    def checkpointed(module, *args):
        inner: dict[int, torch.Tensor] = {}

        def count(tensor):
            inner[id(tensor)] = tensor
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(count, lambda t: t):
            module(*args)  # what the unit keeps when it is recomputed
        units[0] = max(units[0], _total(inner))
        return torch.utils.checkpoint.checkpoint(module.__call__, *args, use_reentrant=False)

    hook = model.register_forward_hook(_stop)  # what the loss does after the model is small
    if checkpointing:
        model.enable_gradient_checkpointing(gradient_checkpointing_func=checkpointed)
    else:
        model.disable_gradient_checkpointing()
    model.train()
    tokens, side = TEXT_TOKENS[family], resolution // 8
    config, bf16, meta = model.config, torch.bfloat16, torch.device("meta")
    try:
        with fused_attention(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _stopped():
            if family in ("sd15", "sdxl"):
                cond = {}
                if family == "sdxl":
                    cond = {"text_embeds": torch.empty(1, 1280, device=meta, dtype=bf16),
                            "time_ids": torch.empty(1, 6, device=meta, dtype=bf16)}  # fmt: skip
                model(
                    torch.empty(1, 4, side, side, device=meta, dtype=bf16),
                    torch.empty(1, device=meta, dtype=bf16),
                    encoder_hidden_states=torch.empty(
                        1, tokens, config.cross_attention_dim, device=meta, dtype=bf16
                    ),
                    added_cond_kwargs=cond,
                )
            else:
                recipe = _recipe(family)
                latents, texts = _inputs(family, config, side, tokens)
                loaded = Loaded(recipe.pipeline_class(), model, 8, dtype=bf16)
                recipe.loss(loaded, latents.to(meta), [Encoded(texts)], [], torch.Generator(), _Params())
    finally:
        hook.remove()
    return _total(kept), units[0]


class _Done(Exception):
    pass


def _stop(module, args, output):
    raise _Done


@contextlib.contextmanager
def _stopped():
    with contextlib.suppress(_Done):
        yield


def _total(kept) -> int:
    """Bytes of the distinct tensors kept: a view counts as its base, once; weights (a frozen Linear keeps
    its weight for the backward pass) are counted as weights, not here."""
    import torch

    bases = {}
    for tensor in kept.values():
        base = tensor._base if tensor._base is not None else tensor
        if not isinstance(base, torch.nn.Parameter):
            bases[id(base)] = base
    return sum(t.numel() * t.element_size() for t in bases.values())


class _Params:  # what a family's loss reads of TrainingParams
    guidance = 1.0
    timestep_type = "sigmoid"


def _inputs(family: str, config, side: int, tokens: int):
    import torch

    if family == "flux":
        # the transformer's input packs 2×2 latent pixels
        latents = torch.randn(1, config.in_channels // 4, side, side)
        return latents, {
            "prompt_embeds": torch.empty(1, tokens, config.joint_attention_dim),
            "pooled": torch.empty(1, config.pooled_projection_dim),
        }
    if family == "zimage":
        return torch.randn(1, config.in_channels, side, side), {
            "prompt_embeds": torch.empty(tokens, config.cap_feat_dim)
        }
    if family in ("flux2_klein", "flux2"):
        from diffusers import Flux2KleinPipeline

        embeds = torch.empty(1, tokens, config.joint_attention_dim)
        latents = torch.randn(1, config.in_channels, side // 2, side // 2)
        return latents, {"prompt_embeds": embeds, "text_ids": Flux2KleinPipeline._prepare_text_ids(embeds)}
    return torch.randn(1, config.out_channels, side, side), {
        "prompt_embeds": torch.empty(1, tokens, config.joint_attention_dim),
        "mask": torch.ones(1, tokens, dtype=torch.long),
    }


def _lora_per_rank(family: str, model) -> int:
    import torch
    from peft import LoraConfig

    targets = _recipe(family).target_modules(False)
    with torch.device("meta"):
        model.add_adapter(LoraConfig(r=1, lora_alpha=1, target_modules=targets), adapter_name="count")
    count = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    model.delete_adapters("count")
    return count


def _encoder_params(spec) -> int:
    import torch
    import transformers

    model_name, config_name, config = spec
    with torch.device("meta"):
        model = getattr(transformers, model_name)(getattr(transformers, config_name)(**config))
    return sum(p.numel() for p in model.parameters())


def _vae_params(family: str) -> int:
    import diffusers
    import torch

    name, config = VAES[family]
    with torch.device("meta"):
        return sum(p.numel() for p in getattr(diffusers, name)(**config).parameters())


def measure(family: str, rank: int = 16) -> dict:
    """The facts of one family; activations with a rank-16 LoRA on a frozen base, as the trainer trains."""
    import torch
    from peft import LoraConfig

    model = _build(family)
    total, linear = _count(model)
    per_rank = _lora_per_rank(family, model)
    model.requires_grad_(False)
    with torch.device("meta"):
        model.add_adapter(
            LoraConfig(r=rank, lora_alpha=rank, target_modules=_recipe(family).target_modules(False))
        )
    activations = {}
    for resolution in RESOLUTIONS:
        full, _ = _saved_bytes(family, model, resolution, checkpointing=False)
        kept, unit = _saved_bytes(family, model, resolution, checkpointing=True)
        activations[str(resolution)] = {"saved": full, "saved_checkpointed": kept, "largest_unit": unit}
    return {
        "denoiser": {
            "class": DENOISERS[family][0],
            "params": total,
            "linear_params": linear,
            "lora_params_per_rank": per_rank,
            "text_tokens": TEXT_TOKENS[family],
            "activations_bf16_batch1_rank16": activations,
        },
        "text_encoders": {
            name: _encoder_params(spec) + (int(VISION_TOWERS_B.get(family, 0) * 1e9) if i == 0 else 0)
            for i, (name, spec) in enumerate(TEXT_ENCODERS[family].items())
        },
        "vae": _vae_params(family),
    }


def main(argv: list[str] | None = None) -> None:
    families = (argv or sys.argv[1:]) or list(DENOISERS)
    facts = json.loads(OUT.read_text()) if OUT.exists() else {}
    for family in families:
        facts[family] = measure(family)
        print(f"{family}: {facts[family]['denoiser']['params'] / 1e9:.2f} B", flush=True)
    OUT.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
