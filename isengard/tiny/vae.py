"""Tiny VAEs for the tiny bases, pre-trained briefly as plain autoencoders on synthetic colour images.

A random VAE decodes everything to about one colour, so nothing a LoRA learns would show. A few hundred
seeded steps make colours survive encode/decode; the normalisation each family applies to its
latents (scaling/shift factors, FLUX.2's batch-norm statistics, Qwen-Image's per-channel mean and std)
is then measured from the trained VAE's latents, the way the real ones were derived.

This training is how the shipped weights were made (`python -m isengard.tiny.freeze`); a build loads them
instead of training (`isengard/tiny/frozen.py` says why).

Three kinds: ``kl`` (AutoencoderKL: SD 1.5, SDXL, FLUX.1, Z-Image), ``flux2`` (AutoencoderKLFlux2) and
``qwen`` (AutoencoderKLQwenImage, a causal video VAE that takes B×C×T×H×W).
"""

from __future__ import annotations

import copy

RESOLUTION = 64
_CACHE: dict = {}


def synthetic_batch(generator, size: int = 32, batch: int = 8):
    """Solid colours, left/right splits and rectangles in random colours, in [-1, 1]."""
    import torch

    images = torch.empty(batch, 3, size, size)
    for i in range(batch):
        kind = int(torch.randint(0, 3, (1,), generator=generator))
        a = torch.rand(3, 1, 1, generator=generator) * 2 - 1
        b = torch.rand(3, 1, 1, generator=generator) * 2 - 1
        image = a.expand(3, size, size).clone()
        if kind == 1:
            image[:, :, size // 2 :] = b
        elif kind == 2:
            x0, y0 = (int(v) for v in torch.randint(0, size // 2, (2,), generator=generator))
            image[:, y0 : y0 + size // 2, x0 : x0 + size // 2] = b
        images[i] = image
    return images


def pretrained_vae(kind: str, latent_channels: int, steps: int, *, shift: bool = False):
    """A pre-trained tiny VAE; identical requests share one training per process (a deep copy each).
    `steps=0` gives the untrained architecture, for the shipped weights to be loaded into
    (`isengard/tiny/frozen.py`): training is how those weights were made, not how a build gets them."""
    if steps == 0:
        return _make(kind, latent_channels)
    key = (kind, latent_channels, steps, shift)
    if key not in _CACHE:
        _CACHE[key] = _train(kind, latent_channels, steps, shift)
    return copy.deepcopy(_CACHE[key])


def _make(kind: str, latent_channels: int):
    common = dict(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=4,
        sample_size=RESOLUTION,
        use_quant_conv=False,
        use_post_quant_conv=False,
        mid_block_add_attention=False,  # at this size attention makes colours train worse
    )
    if kind == "kl":
        from diffusers import AutoencoderKL

        return AutoencoderKL(**common, force_upcast=False)
    if kind == "flux2":
        from diffusers import AutoencoderKLFlux2

        return AutoencoderKLFlux2(**common)
    if kind == "qwen":
        from diffusers import AutoencoderKLQwenImage

        return AutoencoderKLQwenImage(
            base_dim=16,
            z_dim=latent_channels,
            dim_mult=[1, 2],
            num_res_blocks=1,
            temperal_downsample=[False],
            latents_mean=[0.0] * latent_channels,
            latents_std=[1.0] * latent_channels,
        )
    raise ValueError(f"unknown VAE kind {kind!r}")


def _train(kind: str, latent_channels: int, steps: int, shift: bool):
    import torch

    torch.manual_seed(1)
    vae = _make(kind, latent_channels)
    video = kind == "qwen"  # one frame: B×C×1×H×W

    def encode(images):
        return vae.encode(images.unsqueeze(2) if video else images).latent_dist

    def decode(latents):
        out = vae.decode(latents).sample
        return out[:, :, 0] if video else out

    generator = torch.Generator().manual_seed(2)
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    vae.train()
    for _ in range(steps):
        images = synthetic_batch(generator)
        posterior = encode(images)
        recon = decode(posterior.mode())
        loss = torch.nn.functional.mse_loss(recon, images) + 1e-6 * posterior.kl().mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    vae.eval()
    with torch.no_grad():
        latents = torch.cat([encode(synthetic_batch(generator)).mode() for _ in range(8)])
    _measure(vae, kind, latents, shift)
    return vae


def _measure(vae, kind: str, latents, shift: bool) -> None:
    """Set the family's latent normalisation from the trained VAE's own latents."""
    import torch

    if kind == "flux2":  # batch-norm statistics over the 2×2-patchified latents, as the pipeline reads them
        b, c, h, w = latents.shape
        patches = (
            latents.view(b, c, h // 2, 2, w // 2, 2)
            .permute(0, 1, 3, 5, 2, 4)
            .reshape(b, c * 4, h // 2, w // 2)
        )
        with torch.no_grad():
            vae.bn.running_mean.copy_(patches.mean(dim=(0, 2, 3)))
            vae.bn.running_var.copy_(patches.var(dim=(0, 2, 3)))
        return
    if kind == "qwen":
        dims = (0, 2, 3, 4)
        vae.register_to_config(
            latents_mean=[round(float(v), 4) for v in latents.mean(dim=dims)],
            latents_std=[round(float(v), 4) for v in latents.std(dim=dims)],
        )
        return
    offset = float(latents.mean()) if shift else None
    scale = float(1.0 / (latents - (offset or 0.0)).std())
    vae.register_to_config(scaling_factor=round(scale, 4), shift_factor=round(offset, 4) if shift else None)
