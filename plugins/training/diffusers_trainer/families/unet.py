"""What SDXL and SD 1.5 share: a UNet trained on DDPM noise with epsilon or v-prediction."""

from __future__ import annotations

from typing import Any

from plugins.training.diffusers_trainer.families.base import Family, stack

UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
UNET_CONV_TARGETS = ["conv1", "conv2", "conv_shortcut", "proj_in", "proj_out"]


class UNetFamily(Family):
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
            stack(texts, "prompt_embeds", latents.device, loaded.dtype),
            return_dict=False,
            **self._added_cond(loaded, texts, items, latents.device),
        )[0]
        return torch.nn.functional.mse_loss(pred.float(), target.float())
