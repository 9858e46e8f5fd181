"""What every family's training recipe provides (the trainer calls only these methods), and the pieces
they share. One module per family holds the recipe itself."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.base import direct_placement, loaded_in_place


@dataclass
class Encoded:
    """One prompt's cached text conditioning (tensors on the CPU)."""

    tensors: dict[str, Any]


@dataclass
class Loaded:
    pipe: Any  # the pipeline (text encoders may be dropped after encoding)
    model: Any  # the trainable transformer / unet
    vae_scale_factor: int
    extra: dict[str, Any] = field(default_factory=dict)
    dtype: Any = None  # cached: diffusers' `model.dtype` walks every parameter on each access

    def __post_init__(self) -> None:
        if self.dtype is None:
            self.dtype = self.model.dtype


class Family(ABC):
    """One model family's training recipe; the trainer calls only these methods."""

    name: str = ""
    model_attr: str = ""

    @property
    def sample_guidance(self) -> float:
        """The guidance the trainer's samples use (the family's own convention, see plugins.families)."""
        from plugins.families import family_info

        return family_info(self.name).sample_guidance

    def text_max_length(self, loaded: Loaded, default: int = 512) -> int:
        """Tokens the text encoder reads; the tiny models use fewer, as written in their marker."""
        return int(loaded.extra.get("tiny", {}).get("t5_max_length", default))

    def before_adapter(self, loaded: Loaded, base) -> None:
        """Called before the LoRA is added (`base` is the request's ModelRef): Z-Image Turbo loads its
        training adapter here."""
        return None

    def after_adapter(self, loaded: Loaded) -> None:
        """Called once the LoRA is added, before the optimiser collects what is trainable."""
        return None

    @abstractmethod
    def pipeline_class(self): ...

    def load(self, path: Path, *, dtype, quantize: bool, device: str | None = None) -> Loaded:
        """`device`: where the whole pipeline goes, loaded straight there when diffusers can (None: it is
        placed part by part afterwards, as in Low-VRAM mode)."""
        kwargs: dict[str, Any] = {"dtype": dtype}
        if quantize:
            kwargs[self.model_attr] = self._quantized_model(path, dtype)
        elif direct_placement(device):
            kwargs["device_map"] = direct_placement(device)
        pipe = loaded_in_place(self.pipeline_class().from_pretrained(str(path), **kwargs))
        return self.adopt(pipe, path, dtype)

    def adopt(self, pipe, path: Path, dtype) -> Loaded:
        """A pipeline loaded from `path` — here, or handed over by the image backend — ready to train."""
        import torch

        model = getattr(pipe, self.model_attr)
        factor = int(pipe.vae_scale_factor)  # every pipeline states its VAE's downscale
        with torch.no_grad():
            pipe.vae.requires_grad_(False)
        return Loaded(pipe, model, factor, {"tiny": _tiny_info(path)}, dtype=dtype)

    def _quantized_model(self, path: Path, dtype):
        from diffusers import BitsAndBytesConfig

        config = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
        cls = type(self)._model_class()
        return cls.from_pretrained(
            str(path), subfolder=self.model_attr, quantization_config=config, dtype=dtype
        )

    @staticmethod
    @abstractmethod
    def _model_class(): ...

    def grid(self, loaded: Loaded) -> int:
        """Bucket sizes are multiples of this (64 px for the real models). Transformers pack 2×2 latent
        patches, so their tiny models (VAE factor 2) need twice the UNets' multiple."""
        if self.model_attr == "transformer":
            return 16 * loaded.vae_scale_factor if loaded.vae_scale_factor < 8 else 64
        return 8 * loaded.vae_scale_factor

    @abstractmethod
    def target_modules(self, train_conv: bool) -> list[str]: ...

    @abstractmethod
    def encode_prompts(self, loaded: Loaded, prompts: list[str], device) -> list[Encoded]: ...

    @abstractmethod
    def encode_latents(self, loaded: Loaded, pixels, generator): ...

    @abstractmethod
    def loss(self, loaded: Loaded, latents, texts: list[Encoded], items: list, generator, params) -> Any: ...

    @abstractmethod
    def sample(
        self,
        loaded: Loaded,
        text: Encoded,
        negative: Encoded,
        *,
        seed: int,
        steps: int,
        size: int,
        guidance: float,
    ): ...

    @staticmethod
    def _run_sampler(pipe, *, seed, steps, size, guidance, **embeds):
        import torch

        pipe.set_progress_bar_config(disable=True)
        return pipe(
            **embeds,
            height=size,
            width=size,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(seed),
        ).images[0]

    def free_text_encoders(self, loaded: Loaded) -> None:
        for name in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
            if hasattr(loaded.pipe, name):
                setattr(loaded.pipe, name, None)


def _tiny_info(path: Path) -> dict[str, Any]:
    marker = Path(path) / "isengard_tiny.json"
    if marker.exists():
        import json

        return json.loads(marker.read_text())
    return {}


def flow_noise(latents, generator):
    """Flow matching's noisy input: x_t = (1-σ)·x + σ·noise with logit-normal σ (mean 0, std 1), as FLUX,
    SD3 and their successors train. Returns (noisy, σ per item, noise); the target is noise − x."""
    import torch

    noise = torch.randn(latents.shape, generator=generator).to(latents.device)
    sigmas = torch.sigmoid(torch.randn(latents.shape[0], generator=generator)).to(latents.device)
    s = sigmas.view(-1, *([1] * (latents.dim() - 1)))
    return (1.0 - s) * latents + s * noise, sigmas, noise


def stack(texts: list[Encoded], key: str, device, dtype):
    import torch

    return torch.cat([t.tensors[key] for t in texts]).to(device, dtype)
