"""The built-in trainer's files: checkpoints (LoRA + the state a resume needs), the final LoRA with its
metadata, resuming — also into another optimiser after an out-of-memory step-down — and what an
out-of-memory leaves for the step-down (training/oom.py in the core)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugins.base import PluginError
from plugins.lora_format import training_metadata
from plugins.training.diffusers_trainer.lora_io import load_state, save_lora, save_state


class CheckpointsMixin:
    """For LoraTrainer: needs `params`, `request`, `family`, `loaded`, `ctx`, `out`, `optimizer`, `scheduler`,
    `switches`, `stage`, `on_gpu`, `device`."""

    # checkpoints ---------------------------------------------------------------------------------------
    def checkpoint_path(self, step: int) -> Path:
        return self.out / f"{self.request.name}_{step:09d}.safetensors"

    def state_path(self, step: int) -> Path:
        return self.out / "state" / f"{self.request.name}_{step:09d}.pt"

    def _resume(self) -> None:
        from peft import set_peft_model_state_dict

        states = sorted((self.out / "state").glob(f"{self.request.name}_*.pt"))
        if not states:
            self.ctx.progress(message="No checkpoint found: starting from the beginning")
            return
        state = load_state(states[-1])
        result = set_peft_model_state_dict(self.loaded.model, state["lora"], adapter_name="default")
        if getattr(result, "unexpected_keys", None):
            raise PluginError("The checkpoint does not match this model; start a new training instead.")
        if state.get("optimizer_kind", self.params.optimizer) == self.params.optimizer:
            self.optimizer.load_state_dict(state["optimizer"])
        else:  # stepped down to another optimiser: its state starts afresh, the LoRA and schedule go on
            self.ctx.log(
                "training.optimizer_restarted",
                f"{state['optimizer_kind']} state not carried into {self.params.optimizer}",
                step=int(state["step"]),
            )
        self.scheduler.load_state_dict(state["scheduler"])
        self.start_step = int(state["step"])
        self._last_saved = self.start_step
        self.losses = list(state.get("losses", []))
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.checkpoints = sorted(p for p in self.out.glob(f"{self.request.name}_*.safetensors"))
        self.ctx.progress(
            step=self.start_step,
            total=self.params.steps,
            message=f"Resumed from the checkpoint at step {self.start_step}",
        )

    def metadata(self, step: int) -> dict[str, str]:
        p, r = self.params, self.request
        return training_metadata(
            family=r.base.family,
            base_model=r.base.id,
            base_sha256=r.base.sha256,
            trigger_word=r.trigger_word,
            steps=step,
            rank=p.rank,
            alpha=p.alpha,
            resolution=p.resolution,
            dataset_size=len(r.dataset),
            training_seconds=self.train_seconds,
            learning_rate=p.learning_rate,
            optimizer=p.optimizer,
            backend=self.backend,
            backend_version=self.version,
            name=r.name,
            extra={
                "isengard_step": str(step),
                "isengard_seed": str(p.seed),
                "isengard_class_word": r.class_word,
                "ss_seed": str(p.seed),
                **(self.switches.metadata() if self.switches else {}),
            },
        )

    def _save_lora(self, path: Path, step: int) -> Path:
        """fp16 files (the usual size) from GPU runs; fp32 when training ran in fp32, so the file reproduces
        the trained model exactly."""
        import torch

        dtype = torch.float32 if self.dtype == torch.float32 else torch.float16
        return save_lora(
            path,
            self.family.name,
            self.loaded.model,
            self.metadata(step),
            alpha=self.params.alpha,
            conv_alpha=float(self.params.conv_rank),
            dtype=dtype,
        )

    def save_checkpoint(self, step: int) -> Path:
        stage, self.stage = self.stage, "saving"
        path = self._save_lora(self.checkpoint_path(step), step)
        save_state(
            self.state_path(step),
            self.loaded.model,
            self.optimizer,
            self.scheduler,
            step,
            {
                "losses": self.losses,
                "train_seconds": self.train_seconds,
                "optimizer_kind": self.params.optimizer,
            },
        )
        self.checkpoints = [c for c in self.checkpoints if c != path] + [path]
        while len(self.checkpoints) > self.params.max_checkpoints:
            old = self.checkpoints.pop(0)
            old.unlink(missing_ok=True)
            self.state_path(int(old.stem.rsplit("_", 1)[1])).unlink(missing_ok=True)
        self.stage = stage
        return path

    def save_final(self) -> Path:
        return self._save_lora(self.out / f"{self.request.name}.safetensors", self.params.steps)

    def _oom_details(self, exc: BaseException) -> dict[str, Any]:
        """What the service needs to step down and resume: where it ran out (the memory model's phase),
        the step a resume continues from, and the card."""
        import torch

        stage = self.stage
        self.ctx.log("training.oom", f"out of GPU memory while {stage}: {str(exc)[:300]}", stage=stage)
        vram = None
        if self.on_gpu:
            vram = torch.cuda.get_device_properties(self.device).total_memory / 1e9
        states = sorted((self.out / "state").glob(f"{self.request.name}_*.pt"))
        return {
            "stage": stage,
            "phase": {"loading": "preparing", "saving": "training"}.get(stage, stage),
            "on_gpu": self.on_gpu,
            "vram_gb": vram,
            "resume_step": int(states[-1].stem.rsplit("_", 1)[1]) if states else 0,
            "last_checkpoint": str(self.checkpoints[-1]) if self.checkpoints else None,
        }

    def _stop_checkpoint(self, step: int, last_saved: int) -> str:
        if step > last_saved:
            self.save_checkpoint(step)
            return f"saved a checkpoint there, so Resume continues from step {step}"
        if self.checkpoints:
            return f"the checkpoint from step {last_saved} is kept"
        return "no checkpoint was saved yet"
