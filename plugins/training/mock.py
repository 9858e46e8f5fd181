"""Fast-test trainer (a mock, as the spec's fast-test mode asks): no GPU, no weights.

It streams believable progress (falling loss, it/s, ETA, checkpoints, samples) and writes real LoRA
`.safetensors` files — real key names and shapes for the family, zero-effect weights (lora_up = 0) —
that load with safetensors and in diffusers. Runs finish within ~5 s whatever the step count.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

from plugins.base import Availability, Cancelled, RunContext
from plugins.families import family_info
from plugins.lora_format import kohya_name, training_metadata
from plugins.placeholder import placeholder_image
from plugins.training.interface import TrainingBackend, TrainingRequest, TrainingResult

# (module path, in_features, out_features) of a few real modules per family
_MODULES = {
    "sd15": [
        (f"down_blocks.0.attentions.0.transformer_blocks.0.{attn}.{proj}", fin, 320)
        for attn in ("attn1", "attn2")
        for proj, fin in (
            ("to_q", 320),
            ("to_k", 320 if attn == "attn1" else 768),
            ("to_v", 320 if attn == "attn1" else 768),
            ("to_out.0", 320),
        )
    ],
    "sdxl": [
        (f"down_blocks.1.attentions.0.transformer_blocks.0.{attn}.{proj}", fin, 640)
        for attn in ("attn1", "attn2")
        for proj, fin in (
            ("to_q", 640),
            ("to_k", 640 if attn == "attn1" else 2048),
            ("to_v", 640 if attn == "attn1" else 2048),
            ("to_out.0", 640),
        )
    ],
    "flux": [
        (f"transformer_blocks.0.attn.{proj}", 3072, 3072) for proj in ("to_q", "to_k", "to_v", "to_out.0")
    ]
    + [(f"single_transformer_blocks.0.attn.{proj}", 3072, 3072) for proj in ("to_q", "to_k", "to_v")],
    "flux2_klein": [  # the 4B model: 3072 wide
        (f"transformer_blocks.0.attn.{proj}", 3072, 3072) for proj in ("to_q", "to_k", "to_v", "to_out.0")
    ]
    + [("single_transformer_blocks.0.attn.to_out", 12288, 3072)],
    "flux2": [
        (f"transformer_blocks.0.attn.{proj}", 6144, 6144) for proj in ("to_q", "to_k", "to_v", "to_out.0")
    ],
    "zimage": [(f"layers.0.attention.{proj}", 3840, 3840) for proj in ("to_q", "to_k", "to_v", "to_out.0")],
    "qwen_image": [
        (f"transformer_blocks.0.attn.{proj}", 3072, 3072)
        for proj in ("to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj")
    ],
}


def mock_lora_tensors(family: str, rank: int, seed: int) -> dict:
    import torch

    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for module, fin, fout in _MODULES[family]:
        down = torch.randn((rank, fin), generator=generator, dtype=torch.float32) * 0.01
        up = torch.zeros((fout, rank), dtype=torch.float32)
        if family_info(family).lora_keys == "peft":
            tensors[f"transformer.{module}.lora_A.weight"] = down.half()
            tensors[f"transformer.{module}.lora_B.weight"] = up.half()
        else:
            name = kohya_name(module)
            tensors[f"{name}.lora_down.weight"] = down.half()
            tensors[f"{name}.lora_up.weight"] = up.half()
            tensors[f"{name}.alpha"] = torch.tensor(float(rank), dtype=torch.float16)
    return tensors


class MockTrainer(TrainingBackend):
    name = "mock"
    version = "1.0.0"
    label = "Mock trainer (fast-test)"
    description = "Simulates training in seconds and writes a valid, zero-effect LoRA. For demos and tests."
    families = tuple(_MODULES)
    needs_weights = False

    def __init__(self, seconds_per_run: float = 5.0):
        self.seconds_per_run = seconds_per_run

    def availability(self) -> Availability:
        return Availability.yes("always available (simulated training, no GPU needed)")

    def run(self, request: TrainingRequest, ctx: RunContext) -> TrainingResult:
        from safetensors.torch import save_file

        params = request.params
        out = Path(request.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        total = params.steps
        start_step = self._resume_step(out, request.name) if request.resume else 0
        step_seconds = min(0.05, self.seconds_per_run / max(1, total))
        rng = random.Random(params.seed)
        started = time.monotonic()
        checkpoints: list[Path] = sorted(out.glob(f"{request.name}_*.safetensors"))
        samples: list[Path] = []
        loss = None
        ctx.progress(phase="training", step=start_step, total=total, message="Simulated training started")

        def save(path: Path, step: int) -> None:
            meta = training_metadata(
                family=request.base.family,
                base_model=request.base.id,
                base_sha256=request.base.sha256,
                trigger_word=request.trigger_word,
                steps=step,
                rank=params.rank,
                alpha=float(params.rank),
                resolution=params.resolution,
                dataset_size=len(request.dataset),
                training_seconds=time.monotonic() - started,
                learning_rate=params.learning_rate,
                optimizer=params.optimizer,
                backend=self.name,
                backend_version=self.version,
                name=request.name,
                extra={"isengard_mock": "true", "isengard_step": str(step)},
            )
            tmp = path.with_name(f".{path.name}.tmp")
            save_file(
                mock_lora_tensors(request.base.family, params.rank, params.seed), str(tmp), metadata=meta
            )
            tmp.replace(path)

        last_saved = start_step
        for step in range(start_step + 1, total + 1):
            if ctx.is_cancelled():
                done = step - 1
                if done > last_saved:
                    save(out / f"{request.name}_{done:09d}.safetensors", done)
                    raise Cancelled(
                        f"Stopped at step {done}; saved a checkpoint there, so Resume continues from it"
                    )
                raise Cancelled(f"Stopped at step {done}; the last checkpoint is kept")
            time.sleep(step_seconds)
            loss = 0.32 * math.exp(-3.0 * step / total) + 0.06 + rng.uniform(-0.015, 0.015)
            elapsed = time.monotonic() - started
            it_s = (step - start_step) / elapsed if elapsed > 0 else 0.0
            event = {
                "phase": "training",
                "step": step,
                "total": total,
                "loss": round(loss, 5),
                "it_s": round(it_s, 2),
                "eta_s": round((total - step) / it_s, 1) if it_s else None,
            }
            if step % params.save_every == 0 and step < total:
                path = out / f"{request.name}_{step:09d}.safetensors"
                save(path, step)
                checkpoints.append(path)
                self._prune(checkpoints, params.max_checkpoints)
                event["checkpoint"] = str(path)
                last_saved = step
            if params.sample_every and (step % params.sample_every == 0 or step == total):
                event["samples"] = [str(p) for p in self._samples(request, out, step)]
                samples.extend(Path(p) for p in event["samples"])
            ctx.progress(**event)
        final = out / f"{request.name}.safetensors"
        save(final, total)
        return TrainingResult(
            lora_path=final,
            steps=total,
            checkpoints=checkpoints,
            samples=samples,
            final_loss=loss,
            metadata={"mock": "true"},
            backend_version=self.version,
        )

    @staticmethod
    def _resume_step(out: Path, name: str) -> int:
        steps = [
            int(p.stem.rsplit("_", 1)[1])
            for p in out.glob(f"{name}_*.safetensors")
            if p.stem.rsplit("_", 1)[1].isdigit()
        ]
        return max(steps, default=0)

    @staticmethod
    def _prune(checkpoints: list[Path], keep: int) -> None:
        while len(checkpoints) > keep:
            checkpoints.pop(0).unlink(missing_ok=True)

    @staticmethod
    def _samples(request: TrainingRequest, out: Path, step: int) -> list[Path]:
        folder = out / "samples"
        folder.mkdir(exist_ok=True)
        paths = []
        for i, prompt in enumerate(request.sample_prompts[:2] or [f"a photo of {request.trigger_word}"]):
            path = folder / f"step{step:06d}_{i}.png"
            placeholder_image(256, 256, request.params.seed + i, [f"sample, step {step}", prompt]).save(path)
            paths.append(path)
        return paths
