"""The built-in image backend: diffusers pipelines of every family (recipes in `families/`), kept warm,
with LoRAs switched on a loaded base, per-step previews, and images reproducible from their seed."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from plugins.base import (
    Availability,
    Cancelled,
    PluginError,
    PluginSettings,
    RunContext,
    bf16_on,
    direct_placement,
    free_cuda,
    loaded_in_place,
    missing_packages,
    share_key,
)
from plugins.image.diffusers_backend.cache import PipelineCache, apply_loras
from plugins.image.diffusers_backend.families import RECIPES, tiny_marker
from plugins.image.diffusers_backend.previews import LatentPreviewer
from plugins.image.interface import (
    GeneratedImage,
    ImageBackend,
    ImageRequest,
    ImageResult,
    write_preview,
)

SCHEDULERS = {
    "euler": ("EulerDiscreteScheduler", {}, "Euler"),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}, "DPM++ 2M"),
    "dpmpp_2m_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
        "DPM++ 2M Karras",
    ),
    "ddim": ("DDIMScheduler", {}, "DDIM"),
}
DEFAULT_NAMES = {
    "EulerDiscreteScheduler": "Euler",
    "FlowMatchEulerDiscreteScheduler": "Euler",
    "PNDMScheduler": "PNDM",
    "DDIMScheduler": "DDIM",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
}
PREVIEW_SECONDS = 0.4


def _memory_budget(settings: PluginSettings) -> int:
    import psutil

    if settings.gpu_name and settings.gpu_vram_gb:
        return int(settings.gpu_vram_gb * 1024**3 * 0.85)
    return int(psutil.virtual_memory().total * 0.5)


class DiffusersImageBackend(ImageBackend):
    name = "diffusers"
    version = "1.0.0"
    label = "Built-in (diffusers)"
    description = "Every built-in family inside Isengard; the model stays loaded between images."
    families = tuple(RECIPES)

    def __init__(self, settings: PluginSettings, budget_bytes: int | None = None):
        self.settings = settings
        self.cache = PipelineCache(budget_bytes if budget_bytes is not None else _memory_budget(settings))
        self.previewer = LatentPreviewer()
        self._lock = threading.Lock()

    @property
    def stats(self) -> dict[str, int]:
        return self.cache.stats

    def availability(self) -> Availability:
        missing = missing_packages("torch", "diffusers")
        if missing:
            return Availability.no(f"a library is missing ({', '.join(missing)})")
        if self.settings.mode == "fast-test":
            return Availability.no(
                "fast-test mode draws placeholders; set ISENGARD_MODE=production for real images"
            )
        gpu = self.settings.gpu_name
        if gpu:
            return Availability.yes(f"ready on {gpu}")
        return Availability.yes("ready on the CPU (only the tiny test models are practical here)")

    # loading ----------------------------------------------------------------------------------------
    @staticmethod
    def _device_dtype(request: ImageRequest):
        """The GPU the job holds (request.device, e.g. "cuda:1"), else the first; else the CPU."""
        import torch

        if torch.cuda.is_available():
            device = request.device if request.device and request.device.startswith("cuda") else "cuda"
            return device, torch.bfloat16 if bf16_on(device) else torch.float16
        return "cpu", torch.float32

    def _load(self, request: ImageRequest, offload: bool):
        import diffusers

        device, dtype = self._device_dtype(request)
        path = Path(request.base.local_path or request.base.source)
        recipe = RECIPES[request.base.family]
        kwargs: dict[str, Any] = {"dtype": dtype, **recipe.load_kwargs()}
        if not offload and direct_placement(device):
            kwargs["device_map"] = direct_placement(device)  # straight onto the device
        pipe = loaded_in_place(getattr(diffusers, recipe.pipeline).from_pretrained(str(path), **kwargs))
        pipe.set_progress_bar_config(disable=True)
        if offload and device.startswith("cuda"):
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.to(device)
        return pipe

    def _adopt(self, pipe, request: ImageRequest):
        """The trainer's kept pipeline, made ready as `_load` makes a fresh one."""
        device, _ = self._device_dtype(request)
        RECIPES[request.base.family].adopt(pipe)
        pipe.set_progress_bar_config(disable=True)
        pipe.to(device)  # its text encoders waited on the CPU
        return pipe

    @staticmethod
    def _tiny(request: ImageRequest) -> dict[str, Any]:
        return tiny_marker(request.base.local_path or request.base.source)

    # running ----------------------------------------------------------------------------------------
    def run(self, request: ImageRequest, ctx: RunContext) -> ImageResult:
        """The pictures, one at a time. On a CUDA out-of-memory the GPU is freed and the pictures still to
        make are drawn again lighter — the VAE in tiles, then the model offloaded part by part — each
        change said in the notes; only when both are on does it fail, with what to change."""
        import torch
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()
        tiling = bool(request.options.get("vae_tiling"))
        offload = bool(request.options.get("cpu_offload"))
        notes: list[str] = []
        images: list[GeneratedImage] = []
        started = time.monotonic()
        while True:
            try:
                sampler = self._draw(request, ctx, images, notes, tiling=tiling, offload=offload)
                break
            except torch.cuda.OutOfMemoryError as exc:
                self.cache.release(self._device_dtype(request)[0])  # the pipeline in its failed state goes
                free_cuda()
                if not tiling:
                    tiling, change = True, "with the VAE in tiles"
                elif not offload:
                    offload, change = True, "with the model moved to the GPU part by part (slower)"
                else:
                    raise PluginError(
                        "The GPU ran out of memory even with the VAE in tiles and the model offloaded: "
                        "choose a smaller size, or a lighter model.",
                        code="oom",
                    ) from None
                sentence = (
                    f"Out of GPU memory: the pictures from number {len(images) + 1} on are made {change}."
                )
                ctx.log("image.oom_retry", f"{sentence} ({str(exc)[:200]})", tiling=tiling, offload=offload)
                ctx.progress(message=sentence)
                notes.append(sentence)
        if request.negative_prompt and "negative_prompt" not in RECIPES[request.base.family].call_kwargs(
            request, {}
        ):
            notes.append(
                f"{RECIPES[request.base.family].info.label} does not use a negative prompt here; it was ignored."
            )
        info = {"sampler": sampler, "seconds": round(time.monotonic() - started, 3), **self.cache.stats}
        ctx.log("image.generated", f"{len(images)} image(s) from {request.base.id}", **info)
        return ImageResult(images=images, notes=notes, info=info)

    def _draw(
        self, request: ImageRequest, ctx: RunContext, images: list, notes: list[str], *, tiling, offload
    ):
        """Load (or reuse) the pipeline and make the pictures not yet in `images`; the sampler's name."""
        import torch

        family = request.base.family
        recipe = RECIPES[family]
        device, dtype = self._device_dtype(request)
        key = (request.base.id, str(request.base.local_path), offload, device)  # one per GPU
        ctx.progress(phase="loading", message=f"Loading {request.base.label or request.base.id}")
        path = request.base.local_path or request.base.source
        share = None if offload else share_key(path, dtype, device)  # an offloaded pipeline stays its own
        entry = self.cache.get(
            key,
            family,
            lambda: self._load(request, offload),
            share=share,
            adopt=lambda p: self._adopt(p, request),
            device=device,
        )
        with entry.lock:
            pipe = entry.pipe
            apply_loras(entry, list(request.loras), self.cache.stats)
            sampler = self._set_scheduler(entry, request.scheduler, notes if not images else [])
            if tiling:
                pipe.vae.enable_tiling()
            else:
                pipe.vae.disable_tiling()
            if not images:
                notes += self._prompt_notes(pipe, request)
            tiny = self._tiny(request)
            total = request.steps * request.count
            for index in range(len(images), request.count):
                seed = request.seed + index
                ctx.check_cancelled()
                callback = self._callback(request, ctx, pipe, index, total)
                kwargs: dict[str, Any] = {
                    **recipe.call_kwargs(request, tiny),
                    "num_inference_steps": request.steps,
                    "height": request.height,
                    "width": request.width,
                    "generator": torch.Generator(device="cpu").manual_seed(seed),
                    "callback_on_step_end": callback,
                    "callback_on_step_end_tensor_inputs": ["latents"],
                }
                image = pipe(**kwargs).images[0]
                images.append(GeneratedImage(image=image, seed=seed))
        return sampler

    def _set_scheduler(self, entry, choice: str, notes: list[str]) -> str:
        import diffusers

        pipe = entry.pipe
        original = entry.scheduler_config
        flow = RECIPES[entry.family].flow_matching
        if flow or choice in ("default", None):
            if flow and choice not in ("default", None):
                label = RECIPES[entry.family].info.label
                notes.append(
                    f"{label} always uses its own sampler (flow-matching Euler); the sampler setting was ignored."
                )
            pipe.scheduler = getattr(diffusers, original["_class_name"]).from_config(original)
            return DEFAULT_NAMES.get(original["_class_name"], original["_class_name"])
        cls_name, extra, label = SCHEDULERS[choice]
        pipe.scheduler = getattr(diffusers, cls_name).from_config(original, **extra)
        return label

    @staticmethod
    def _prompt_notes(pipe, request: ImageRequest) -> list[str]:
        notes = []
        recipe = RECIPES[request.base.family]
        tokenizer, limit = recipe.prompt_tokenizer(pipe, DiffusersImageBackend._tiny(request))
        if tokenizer is None:  # a pipeline handed over without its text encoder's tokenizer
            return notes
        ids = tokenizer(request.prompt, truncation=False).input_ids
        if len(ids) > limit:
            left_out = len(tokenizer.decode(ids[limit:], skip_special_tokens=True).split())
            words = f"about {left_out} word{'s' if left_out != 1 else ''}" if left_out else "its last words"
            notes.append(
                f"This model reads only the start of a long prompt, so the end of yours ({words}) was left "
                "out. Shorten it, or put the most important words first."
            )
        return notes

    def _callback(self, request: ImageRequest, ctx: RunContext, pipe, index: int, total: int):
        last = [0.0]

        def on_step(pipeline, step: int, timestep, tensors: dict) -> dict:
            if ctx.is_cancelled():
                raise Cancelled(f"Cancelled at image {index + 1}, step {step + 1}.")
            fields: dict[str, Any] = {
                "step": index * request.steps + step + 1,
                "total": total,
                "image_index": index,
            }
            if step == 0:  # replaces "Loading …" in the status line
                fields["phase"] = "generating"
                fields["message"] = f"Generating image {index + 1} of {request.count}"
            now = time.monotonic()
            if now - last[0] >= PREVIEW_SECONDS and step + 1 < request.steps:  # the picture itself follows
                last[0] = now
                try:
                    fields["preview"] = str(self._preview(pipe, request, tensors["latents"], ctx.job_id))
                except Exception as exc:  # a preview must never break the picture
                    ctx.log("image.preview_failed", f"preview failed: {exc}")
            ctx.progress(**fields)
            return tensors

        return on_step

    def _preview(self, pipe, request: ImageRequest, latents, job_id: str) -> Path:
        latents = RECIPES[request.base.family].preview_latents(pipe, request, latents)
        return write_preview(self.previewer.to_image(pipe.vae, latents), self.settings.tmp_dir, job_id)
