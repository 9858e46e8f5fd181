"""The LoRA trainer: `setup()` (load, cache, add the adapter), `step()` (one optimisation step),
`save_checkpoint()` / `save_final()`, `sample()`, and `run()` that ties them together.

Every step draws its batch, noise and timesteps from a generator seeded by (seed, step), so a resumed run
continues exactly where the stopped one would have gone: same batches, same noise, same losses.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from plugins.base import Cancelled, PluginError, RunContext, bf16_on, free_cuda, share_key, warm_memory
from plugins.training.diffusers_trainer import gpu_switches
from plugins.training.diffusers_trainer.checkpoints import CheckpointsMixin
from plugins.training.diffusers_trainer.families import FAMILIES, Encoded, Family, Loaded
from plugins.training.diffusers_trainer.warm import WarmCache
from plugins.training.diffusers_trainer.warm_setup import WarmSetupMixin
from plugins.training.interface import TrainingRequest, TrainingResult

SPEED_WINDOW = 20  # steps used for it/s and the ETA


def pick_device(params, wanted: str | None = None) -> tuple[str, Any]:
    """The device and dtype: the GPU the job holds (`wanted`, e.g. "cuda:1"), else the first; else the CPU."""
    import torch

    if torch.cuda.is_available():
        device = wanted if wanted and wanted.startswith("cuda") else "cuda"
        if params.mixed_precision == "bf16" and bf16_on(device):
            return device, torch.bfloat16
        if params.mixed_precision in ("bf16", "fp16"):
            return device, torch.float16
        return device, torch.float32
    return "cpu", torch.float32


class LoraTrainer(CheckpointsMixin, WarmSetupMixin):
    def __init__(
        self,
        request: TrainingRequest,
        ctx: RunContext,
        *,
        backend: str,
        version: str,
        warm: WarmCache | None = None,
    ):
        self.request = request
        self.params = request.params
        self.ctx = ctx
        self.backend = backend
        self.version = version
        self.family: Family = FAMILIES[request.base.family]()
        self.out = Path(request.output_dir)
        self.device, self.dtype = pick_device(self.params, request.device)
        self.on_gpu = self.device.startswith("cuda")
        self.loaded: Loaded | None = None
        self.items: list = []
        self.latents: list = []
        self.texts: dict[str, Encoded] = {}
        self.sample_texts: list[Encoded] = []
        self.negative: Encoded | None = None
        self.optimizer = None
        self.scheduler = None
        self.start_step = 0
        self.losses: list[float] = []
        self.checkpoints: list[Path] = []
        self.samples: list[Path] = []
        self.train_seconds = 0.0
        self._epochs: dict[int, list[list[int]]] = {}
        self._trainable: list | None = None
        self._recent: list[float] = []
        self._last_saved = 0
        self.phase_seconds: dict[str, float] = {}
        self.stage = "loading"  # loading | preparing | training | sampling | saving: where an OOM struck
        self._samples_tiled = False
        self.switches: gpu_switches.Switches | None = None
        self.warm = warm
        base = request.base
        self.warm_key = (
            (str(base.local_path or base.source), base.sha256, str(self.dtype), self.device)
            if warm is not None and not self.params.quantize_base
            else None
        )

    # setup ---------------------------------------------------------------------------------------------
    def check_options(self) -> None:
        p = self.params
        if not self.request.dataset:
            raise PluginError("There are no photos to train on.")
        if not self.on_gpu and p.optimizer == "adamw8bit":
            raise PluginError("8-bit AdamW needs an NVIDIA GPU; choose AdamW or Prodigy on this machine.")
        if not self.on_gpu and p.quantize_base:
            raise PluginError("The 4-bit base (QLoRA) needs an NVIDIA GPU; turn it off on this machine.")

    def setup(self) -> None:
        import torch

        self.check_options()
        if self.on_gpu:  # this thread's "current" GPU too, for libraries that use it (bitsandbytes)
            torch.cuda.set_device(self.device)
        p = self.params
        label = self.request.base.label or self.request.base.id
        tick = time.monotonic()
        self.loaded = self.warm.checkout(self.warm_key) if self.warm_key is not None else None
        path = Path(self.request.base.local_path or self.request.base.source)
        if self.loaded is not None:
            self.ctx.progress(phase="loading", message=f"{label} is still loaded from the last training")
        elif self.warm_key is not None and (
            taken := warm_memory.take(share_key(path, self.dtype, self.device), self.warm)
        ):
            self.warm.stats["base_taken"] += 1  # Image Gen had it loaded: moved over, not read again
            self.ctx.progress(phase="loading", message=f"{label} is already loaded (from Image Gen)")
            self.loaded = self.family.adopt(taken, path, self.dtype)
            self._place(self.loaded.pipe)
        else:
            self.ctx.progress(phase="loading", message=f"Loading {label}")
            warm_memory.make_room(None, self.device)  # what this GPU keeps (for pictures, another base) goes
            if self.warm is not None:
                self.warm.stats["base_loads"] += 1
            whole = None if self.captions_on_cpu else self.device  # Low-VRAM: placed part by part
            self.loaded = self.family.load(path, dtype=self.dtype, quantize=p.quantize_base, device=whole)
            self._place(self.loaded.pipe)
        pipe = self.loaded.pipe
        self.phase_seconds["load"] = time.monotonic() - tick
        self.ctx.check_cancelled()

        tick = time.monotonic()
        self.stage = "preparing"
        self._prepare_photos()
        sample_prompts = self.request.sample_prompts or [f"a photo of {self.request.trigger_word}"]
        prompts = sorted({item.caption for item in self.items} | {""})
        texts = self._encode(prompts + sample_prompts)
        self.texts = {prompt: texts[prompt] for prompt in prompts}
        self.sample_texts = [texts[prompt] for prompt in sample_prompts]
        self.negative = self.texts[""]
        if self.warm_key is None:
            self.family.free_text_encoders(self.loaded)
        else:  # kept for the next job's new prompts, out of the GPU's way
            for name in ("text_encoder", "text_encoder_2"):
                if getattr(pipe, name, None) is not None:
                    getattr(pipe, name).to("cpu")
        if pipe.vae.dtype != self.dtype:
            pipe.vae.to(self.device, self.dtype)
        if self.on_gpu:
            torch.cuda.empty_cache()
        self.phase_seconds["prepare"] = time.monotonic() - tick
        self.ctx.check_cancelled()
        self._add_adapter()
        self.switches = gpu_switches.decide(self.device, p)
        gpu_switches.apply(self.switches, self.loaded.model)
        self.ctx.log("training.gpu_switches", self.switches.sentence(), **asdict(self.switches))
        self._make_optimizer()
        if self.request.resume:
            self._resume()

    def _add_adapter(self) -> None:
        import torch
        from peft import LoraConfig

        p = self.params
        model = self.loaded.model
        model.requires_grad_(False)
        if p.quantize_base:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(
                model, use_gradient_checkpointing=p.gradient_checkpointing
            )
            self.loaded.model = model
        targets = self.family.target_modules(p.train_conv)
        conv_names = (
            {"conv1", "conv2", "conv_shortcut"}
            if p.train_conv and self.family.model_attr == "unet"
            else set()
        )
        config = LoraConfig(
            r=p.rank,
            lora_alpha=p.alpha,
            init_lora_weights="gaussian",
            target_modules=targets,
            rank_pattern={name: p.conv_rank for name in conv_names},
            alpha_pattern={name: float(p.conv_rank) for name in conv_names},
        )
        self.family.before_adapter(self.loaded, self.request.base)
        torch.manual_seed(p.seed)
        model.add_adapter(config)
        self.family.after_adapter(self.loaded)
        if self.dtype != torch.float32:
            from diffusers.training_utils import cast_training_params

            cast_training_params(model, dtype=torch.float32)
        if p.gradient_checkpointing:
            model.enable_gradient_checkpointing()
        model.train()

    def trainable(self) -> list:
        if self._trainable is None:
            self._trainable = [param for param in self.loaded.model.parameters() if param.requires_grad]
        return self._trainable

    def _make_optimizer(self) -> None:
        import torch
        from diffusers.optimization import get_scheduler

        p = self.params
        params = self.trainable()
        if p.optimizer == "prodigy":
            from prodigyopt import Prodigy

            self.optimizer = Prodigy(params, lr=1.0, weight_decay=0.01, safeguard_warmup=p.warmup_steps > 0)
        elif p.optimizer == "adamw8bit":
            import bitsandbytes as bnb

            self.optimizer = bnb.optim.AdamW8bit(params, lr=p.learning_rate, weight_decay=1e-2)
        else:
            kernel = self.switches.optimizer_kwargs() if self.switches else {}
            self.optimizer = torch.optim.AdamW(params, lr=p.learning_rate, weight_decay=1e-2, **kernel)
        self.scheduler = get_scheduler(
            p.lr_scheduler, self.optimizer, num_warmup_steps=p.warmup_steps, num_training_steps=p.steps
        )

    # training ------------------------------------------------------------------------------------------
    def batch_for(self, step: int) -> list[int]:
        """The photos of `step`: a seeded shuffle per epoch, batches drawn from one bucket."""
        per_epoch = len(self._epoch(0))
        epoch, index = divmod(step - 1, per_epoch)
        return self._epoch(epoch)[index]

    def _epoch(self, epoch: int) -> list[list[int]]:
        if epoch not in self._epochs:
            size = min(self.params.batch_size, len(self.items))
            rng = random.Random(self.params.seed * 7919 + epoch)
            by_bucket: dict[tuple, list[int]] = {}
            for item in self.items:
                by_bucket.setdefault(item.bucket, []).append(item.index)
            batches = []
            for indices in by_bucket.values():
                rng.shuffle(indices)
                batches += [indices[i : i + size] for i in range(0, len(indices), size)]
            rng.shuffle(batches)
            self._epochs = {epoch: batches}  # only the current epoch is kept
        return self._epochs[epoch]

    def step(self, step: int) -> float:
        import torch

        generator = torch.Generator().manual_seed(self.params.seed * 1_000_003 + step)
        indices = self.batch_for(step)
        texts = []
        for index in indices:
            drop = torch.rand(1, generator=generator).item() < self.params.caption_dropout
            texts.append(self.texts["" if drop else self.items[index].caption])
        latents = torch.stack([self.latents[i] for i in indices]).to(self.device)
        with torch.autocast(self.device.split(":")[0], dtype=self.dtype, enabled=self.dtype != torch.float32):
            loss = self.family.loss(
                self.loaded, latents, texts, [self.items[i] for i in indices], generator, self.params
            )
        value = float(loss.detach())
        if not math.isfinite(value):
            raise PluginError(
                f"Training stopped at step {step}: the loss became {value} (the numbers blew up). "
                "Try a lower learning rate.",
                code="nan",
                details={"step": step},
            )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.trainable(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return value

    def sample(self, step: int) -> list[Path]:
        import torch

        p = self.params
        model = self.loaded.model
        model.eval()
        stage, self.stage = self.stage, "sampling"
        folder = self.out / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        size = max(
            self.family.grid(self.loaded),
            round(p.resolution / self.family.grid(self.loaded)) * self.family.grid(self.loaded),
        )
        guidance = self.family.sample_guidance
        total = len(self.sample_texts)
        try:
            with torch.no_grad():
                for index, text in enumerate(self.sample_texts):
                    if self.ctx.is_cancelled():  # honoured between samples; the caller stops the run
                        break
                    self.ctx.progress(
                        phase="sampling",
                        message=f"Making samples ({index + 1} of {total})",
                        sample_index=index + 1,
                        sample_total=total,
                        sample_step=step,
                    )
                    image = self._sample_one(text, seed=p.seed + index, size=size, guidance=guidance)
                    path = folder / f"step{step:06d}_{index}.png"
                    image.save(path)
                    paths.append(path)
        finally:
            model.train()
        self.stage = stage
        self.samples += paths
        return paths

    def _sample_one(self, text, *, seed: int, size: int, guidance: float):
        """One sample; on an out-of-memory, once per run, the memory is freed and the VAE switched to tiles
        and slices (the decode is a sample's largest moment), and the sample drawn again."""
        import torch

        def draw():
            return self.family.sample(
                self.loaded,
                text,
                self.negative,
                seed=seed,
                steps=self.params.sample_steps,
                size=size,
                guidance=guidance,
            )

        try:
            return draw()
        except torch.cuda.OutOfMemoryError as exc:
            if self._samples_tiled:
                raise
            self._samples_tiled = True
            free_cuda()
            vae = self.loaded.pipe.vae
            for switch in ("enable_tiling", "enable_slicing"):
                if hasattr(vae, switch):
                    getattr(vae, switch)()
            sentence = "Out of GPU memory while making samples — drawing them with the VAE in tiles"
            self.ctx.log("training.oom_sampling", f"{sentence}: {str(exc)[:200]}", stage="sampling")
            self.ctx.progress(message=sentence)
            return draw()

    def _sampled(self, step: int) -> bool:
        return all(
            (self.out / "samples" / f"step{step:06d}_{i}.png").exists() for i in range(len(self.sample_texts))
        )

    def run(self) -> TrainingResult:
        import torch

        p = self.params
        kept = False
        try:
            self.stage = "loading"
            self.setup()
            if p.sample_every and self.start_step == 0:
                self.ctx.progress(step=0, total=p.steps)
                self.ctx.progress(
                    phase="sampling", step=0, total=p.steps, samples=[str(x) for x in self.sample(0)]
                )
            elif (
                p.sample_every
                and self.start_step % p.sample_every == 0
                and not self._sampled(self.start_step)
            ):
                # a Stop that came while this step's samples were drawn: draw them now, or the likeness
                # curve would miss the step it resumed from
                self.ctx.progress(
                    phase="sampling",
                    step=self.start_step,
                    total=p.steps,
                    samples=[str(x) for x in self.sample(self.start_step)],
                )
            self.ctx.progress(phase="training", step=self.start_step, total=p.steps, message="Training")
            self.stage = "training"
            for step in range(self.start_step + 1, p.steps + 1):
                if self.ctx.is_cancelled():
                    kept = self._stop_checkpoint(step - 1, self._last_saved)
                    raise Cancelled(f"Stopped at step {step - 1}; {kept}")
                self.train_step(step)
            self.stage = "saving"
            final = self.save_final()
            kept = True
        except Cancelled:
            kept = True  # stopped between steps: the base is intact
            raise
        except torch.cuda.OutOfMemoryError as exc:
            raise PluginError(
                "The GPU ran out of memory.", code="oom", details=self._oom_details(exc)
            ) from None
        finally:
            self._give_back(kept)
        peak = torch.cuda.max_memory_allocated(self.device) / 1024**3 if self.on_gpu else None
        return TrainingResult(
            lora_path=final,
            steps=p.steps,
            checkpoints=list(self.checkpoints),
            samples=list(self.samples),
            final_loss=self.losses[-1] if self.losses else None,
            metadata={
                "device": self.device,
                "dtype": str(self.dtype).removeprefix("torch."),
                "train_seconds": f"{self.train_seconds:.2f}",
                "peak_vram_gb": f"{peak:.2f}" if peak is not None else "",
                "losses": ",".join(f"{v:.6f}" for v in self.losses),
                **{f"{phase}_seconds": f"{sec:.3f}" for phase, sec in self.phase_seconds.items()},
            },
            backend_version=self.version,
        )

    def train_step(self, step: int) -> float:
        """One step with its bookkeeping: speed, checkpoint, samples, the progress event."""
        p = self.params
        tick = time.monotonic()
        loss = self.step(step)
        elapsed = time.monotonic() - tick
        self.train_seconds += elapsed
        self.losses.append(loss)
        self._recent = [*self._recent, elapsed][-SPEED_WINDOW:]
        it_s = len(self._recent) / sum(self._recent) if sum(self._recent) > 0 else 0.0
        event: dict[str, Any] = {
            "phase": "training",
            "step": step,
            "total": p.steps,
            "loss": round(loss, 6),
            "it_s": round(it_s, 3),
            "eta_s": round((p.steps - step) / it_s, 1) if it_s else None,
            "lr": self.scheduler.get_last_lr()[0],
        }
        if step % p.save_every == 0 and step < p.steps:
            event["checkpoint"] = str(self.save_checkpoint(step))
            self._last_saved = step
        if p.sample_every and (step % p.sample_every == 0 or step == p.steps):
            self.ctx.progress(**event)  # the step itself first: its loss, speed and time left
            event = {"phase": "training", "step": step, "total": p.steps, "message": "Training"}
            event["samples"] = [str(x) for x in self.sample(step)]
            if step == p.steps:
                event["message"] = "Saving the LoRA"
        self.ctx.progress(**event)
        return loss
