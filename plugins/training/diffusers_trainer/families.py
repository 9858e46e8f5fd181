"""What differs between FLUX, SDXL and SD 1.5 training: loading, encoding, the noise objective, sampling.

* FLUX: flow matching (x_t = (1-σ)x + σ·noise, target noise - x), logit-normal σ, guidance embedding,
  packed latents with image ids.
* SDXL: DDPM noise, epsilon or v-prediction, two text encoders, `add_time_ids`.
* SD 1.5: DDPM noise, epsilon or v-prediction, one text encoder.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLUX_TARGETS = [
    "attn.to_k", "attn.to_q", "attn.to_v", "attn.to_out.0",
    "attn.add_k_proj", "attn.add_q_proj", "attn.add_v_proj", "attn.to_add_out",
    "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2",
    "proj_mlp", "proj_out",
]  # fmt: skip
UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
UNET_CONV_TARGETS = ["conv1", "conv2", "conv_shortcut", "proj_in", "proj_out"]


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

    @abstractmethod
    def pipeline_class(self): ...

    def load(self, path: Path, *, dtype, quantize: bool) -> Loaded:
        kwargs: dict[str, Any] = {"dtype": dtype}
        if quantize:
            kwargs[self.model_attr] = self._quantized_model(path, dtype)
        pipe = self.pipeline_class().from_pretrained(str(path), **kwargs)
        return self.adopt(pipe, path, dtype)

    def adopt(self, pipe, path: Path, dtype) -> Loaded:
        """A pipeline loaded from `path` — here, or handed over by the image backend — ready to train."""
        import torch

        model = getattr(pipe, self.model_attr)
        factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
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
        """Bucket sizes are multiples of this (64 px for the real models)."""
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


def _stack(texts: list[Encoded], key: str, device, dtype):
    import torch

    return torch.cat([t.tensors[key] for t in texts]).to(device, dtype)


class FluxFamily(Family):
    name = "flux"
    model_attr = "transformer"

    def pipeline_class(self):
        from diffusers import FluxPipeline

        return FluxPipeline

    @staticmethod
    def _model_class():
        from diffusers import FluxTransformer2DModel

        return FluxTransformer2DModel

    def grid(self, loaded: Loaded) -> int:
        return 16 * loaded.vae_scale_factor if loaded.vae_scale_factor < 8 else 64

    def target_modules(self, train_conv: bool) -> list[str]:
        return ["x_embedder", *FLUX_TARGETS]

    def max_sequence_length(self, loaded: Loaded) -> int:
        return int(loaded.extra.get("tiny", {}).get("t5_max_length", 512))

    def encode_prompts(self, loaded, prompts, device):
        import torch

        pipe = loaded.pipe
        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, pooled, _ = pipe.encode_prompt(
                    prompt=prompt,
                    prompt_2=None,
                    device=device,
                    num_images_per_prompt=1,
                    max_sequence_length=self.max_sequence_length(loaded),
                )
                out.append(Encoded({"prompt_embeds": embeds.cpu(), "pooled": pooled.cpu()}))
        return out

    def encode_latents(self, loaded, pixels, generator):
        import torch

        vae = loaded.pipe.vae
        with torch.no_grad():
            dist = vae.encode(pixels.unsqueeze(0).to(vae.device, vae.dtype)).latent_dist
            latents = dist.sample(generator=generator)
        shift = vae.config.shift_factor or 0.0
        return ((latents - shift) * vae.config.scaling_factor).float().cpu()[0]

    def loss(self, loaded, latents, texts, items, generator, params):
        import torch
        from diffusers import FluxPipeline

        model = loaded.model
        device, dtype = latents.device, loaded.dtype
        batch, channels, height, width = latents.shape
        noise = torch.randn(latents.shape, generator=generator).to(device)
        # logit-normal σ (mean 0, std 1), as FLUX / SD3 training uses
        sigmas = torch.sigmoid(torch.randn(batch, generator=generator)).to(device)
        s = sigmas.view(-1, 1, 1, 1)
        noisy = (1.0 - s) * latents + s * noise
        packed = FluxPipeline._pack_latents(noisy.to(dtype), batch, channels, height, width)
        img_ids = FluxPipeline._prepare_latent_image_ids(batch, height // 2, width // 2, device, dtype)
        prompt_embeds = _stack(texts, "prompt_embeds", device, dtype)
        txt_ids = torch.zeros(prompt_embeds.shape[1], 3, device=device, dtype=dtype)
        guidance = (
            torch.full((batch,), float(params.guidance), device=device, dtype=torch.float32)
            if model.config.guidance_embeds
            else None
        )
        pred = model(
            hidden_states=packed,
            timestep=sigmas.to(dtype),
            guidance=guidance,
            pooled_projections=_stack(texts, "pooled", device, dtype),
            encoder_hidden_states=prompt_embeds,
            txt_ids=txt_ids,
            img_ids=img_ids,
            return_dict=False,
        )[0]
        factor = loaded.vae_scale_factor
        pred = FluxPipeline._unpack_latents(pred, height * factor, width * factor, factor)
        return torch.nn.functional.mse_loss(pred.float(), (noise - latents).float())

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        from diffusers import FluxPipeline

        pipe = FluxPipeline(
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
            vae=loaded.pipe.vae,
            text_encoder=None,
            tokenizer=None,
            text_encoder_2=None,
            tokenizer_2=None,
            transformer=loaded.model,
        )
        dtype = loaded.model.dtype
        device = loaded.model.device
        return self._run_sampler(
            pipe,
            seed=seed,
            steps=steps,
            size=size,
            guidance=guidance,
            prompt_embeds=text.tensors["prompt_embeds"].to(device, dtype),
            pooled_prompt_embeds=text.tensors["pooled"].to(device, dtype),
        )


class _UNetFamily(Family):
    model_attr = "unet"

    @staticmethod
    def _model_class():
        from diffusers import UNet2DConditionModel

        return UNet2DConditionModel

    def target_modules(self, train_conv: bool) -> list[str]:
        return UNET_TARGETS + (UNET_CONV_TARGETS if train_conv else [])

    def adopt(self, pipe, path, dtype):
        from diffusers import DDPMScheduler

        loaded = super().adopt(pipe, path, dtype)
        loaded.extra["noise_scheduler"] = DDPMScheduler.from_config(loaded.pipe.scheduler.config)
        return loaded

    def encode_latents(self, loaded, pixels, generator):
        import torch

        vae = loaded.pipe.vae
        with torch.no_grad():  # the VAE runs in fp32: the SDXL VAE overflows in fp16
            latents = vae.float().encode(pixels.unsqueeze(0).to(vae.device, torch.float32)).latent_dist
            latents = latents.sample(generator=generator)
        return (latents * vae.config.scaling_factor).float().cpu()[0]

    def _noise_and_target(self, loaded, latents, generator):
        import torch

        scheduler = loaded.extra["noise_scheduler"]
        noise = torch.randn(latents.shape, generator=generator).to(latents.device)
        steps = torch.randint(
            0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator
        )
        steps = steps.to(latents.device)
        noisy = scheduler.add_noise(latents, noise, steps)
        if scheduler.config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(latents, noise, steps)
        else:
            target = noise
        return noisy, steps, target

    def _added_cond(self, loaded, texts, items, device) -> dict[str, Any]:
        """Extra UNet inputs besides the prompt embeddings (SDXL's size and pooled-text conditioning)."""
        return {}

    def loss(self, loaded, latents, texts, items, generator, params):
        import torch

        noisy, steps, target = self._noise_and_target(loaded, latents, generator)
        pred = loaded.model(
            noisy.to(loaded.dtype),
            steps,
            _stack(texts, "prompt_embeds", latents.device, loaded.dtype),
            return_dict=False,
            **self._added_cond(loaded, texts, items, latents.device),
        )[0]
        return torch.nn.functional.mse_loss(pred.float(), target.float())


class SDXLFamily(_UNetFamily):
    name = "sdxl"

    def pipeline_class(self):
        from diffusers import StableDiffusionXLPipeline

        return StableDiffusionXLPipeline

    def encode_prompts(self, loaded, prompts, device):
        import torch

        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, _, pooled, _ = loaded.pipe.encode_prompt(
                    prompt=prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
                )
                out.append(Encoded({"prompt_embeds": embeds.cpu(), "pooled": pooled.cpu()}))
        return out

    def _added_cond(self, loaded, texts, items, device):
        import torch

        time_ids = torch.tensor(
            [[*it.original_size, *it.crop_top_left, it.bucket[1], it.bucket[0]] for it in items],
            device=device,
            dtype=loaded.dtype,
        )
        text_embeds = _stack(texts, "pooled", device, loaded.dtype)
        return {"added_cond_kwargs": {"time_ids": time_ids, "text_embeds": text_embeds}}

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        import torch
        from diffusers import StableDiffusionXLPipeline

        pipe = StableDiffusionXLPipeline(
            vae=loaded.pipe.vae,
            text_encoder=None,
            text_encoder_2=None,
            tokenizer=None,
            tokenizer_2=None,
            unet=loaded.model,
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
        )
        device, dtype = loaded.model.device, loaded.model.dtype
        negative_embeds, negative_pooled = negative.tensors["prompt_embeds"], negative.tensors["pooled"]
        if loaded.pipe.config.force_zeros_for_empty_prompt:  # what the pipeline itself does for no negative
            negative_embeds, negative_pooled = (
                torch.zeros_like(negative_embeds),
                torch.zeros_like(negative_pooled),
            )
        return self._run_sampler(
            pipe,
            seed=seed,
            steps=steps,
            size=size,
            guidance=guidance,
            prompt_embeds=text.tensors["prompt_embeds"].to(device, dtype),
            pooled_prompt_embeds=text.tensors["pooled"].to(device, dtype),
            negative_prompt_embeds=negative_embeds.to(device, dtype),
            negative_pooled_prompt_embeds=negative_pooled.to(device, dtype),
        )


class SD15Family(_UNetFamily):
    name = "sd15"

    def pipeline_class(self):
        from diffusers import StableDiffusionPipeline

        return StableDiffusionPipeline

    def adopt(self, pipe, path, dtype):
        loaded = super().adopt(pipe, path, dtype)
        loaded.pipe.safety_checker = None
        return loaded

    def encode_prompts(self, loaded, prompts, device):
        import torch

        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, _ = loaded.pipe.encode_prompt(prompt, device, 1, False)
                out.append(Encoded({"prompt_embeds": embeds.cpu()}))
        return out

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline(
            vae=loaded.pipe.vae,
            text_encoder=None,
            tokenizer=None,
            unet=loaded.model,
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        device, dtype = loaded.model.device, loaded.model.dtype
        return self._run_sampler(
            pipe,
            seed=seed,
            steps=steps,
            size=size,
            guidance=guidance,
            prompt_embeds=text.tensors["prompt_embeds"].to(device, dtype),
            negative_prompt_embeds=negative.tensors["prompt_embeds"].to(device, dtype),
        )


FAMILIES: dict[str, type[Family]] = {"flux": FluxFamily, "sdxl": SDXLFamily, "sd15": SD15Family}
