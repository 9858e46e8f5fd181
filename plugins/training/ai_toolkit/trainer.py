"""The ai-toolkit training backend: drives an ostris/ai-toolkit checkout as a subprocess.

Same experience as the built-in trainer: live progress and loss (from its tqdm bar and `loss_log.db`),
samples and checkpoints as they appear, cancel (SIGINT, as its own UI does), resume (re-running the same
config: ai-toolkit continues from its newest checkpoint), and the final LoRA in Isengard's store.
ai-toolkit runs in its own venv (its pinned stack differs from ours), never in the studio's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from plugins.base import Availability, Cancelled, PluginError, PluginSettings, RunContext, subprocess_gpu
from plugins.lora_format import training_metadata
from plugins.training.ai_toolkit.config import build_config, unknown_keys
from plugins.training.ai_toolkit.process import OutputParser, Process, new_samples, read_losses
from plugins.training.interface import TrainingBackend, TrainingRequest, TrainingResult

POLL_SECONDS = 0.25


def _redact(text: str) -> str:
    for token_like in re.findall(r"hf_[A-Za-z0-9]{6,}", text):
        text = text.replace(token_like, "hf_***")
    return text


OUT_OF_MEMORY = re.compile(r"out of memory|OutOfMemoryError", re.IGNORECASE)


class AIToolkitTrainer(TrainingBackend):
    name = "ai-toolkit"
    version = "1.0.0"
    label = "ai-toolkit (ostris)"
    description = "Trains with your ai-toolkit checkout (AI_TOOLKIT_DIR) in its own Python."
    families = ("flux", "sdxl", "sd15", "flux2_klein", "flux2", "zimage", "qwen_image")

    def __init__(self, settings: PluginSettings, *, stop_grace: float = 60.0):
        self.settings = settings
        self.stop_grace = stop_grace

    # finding ai-toolkit ------------------------------------------------------------------------------
    @property
    def checkout(self) -> Path | None:
        return Path(self.settings.ai_toolkit_dir) if self.settings.ai_toolkit_dir else None

    def python(self) -> Path | None:
        if self.settings.ai_toolkit_python:
            return Path(self.settings.ai_toolkit_python)
        if self.checkout:
            for candidate in ("venv/bin/python", ".venv/bin/python", "venv/Scripts/python.exe"):
                if (self.checkout / candidate).exists():
                    return self.checkout / candidate
        return None

    def availability(self) -> Availability:
        if self.checkout is None:
            return Availability.no("AI_TOOLKIT_DIR is not set (point it at your ai-toolkit checkout)")
        if not (self.checkout / "run.py").is_file():
            return Availability.no(f"{self.checkout} has no run.py: it is not an ai-toolkit checkout")
        python = self.python()
        if python is None or not python.exists():
            return Availability.no(
                f"no Python for ai-toolkit: create its venv ({self.checkout}/venv) or set AI_TOOLKIT_PYTHON"
            )
        return Availability.yes(f"ai-toolkit {self.toolkit_version()} at {self.checkout}")

    def toolkit_version(self) -> str:
        """Its version.py and git commit, recorded with every job."""
        checkout = self.checkout
        if checkout is None:
            return "unknown"
        version = ""
        version_file = checkout / "version.py"
        if version_file.exists():
            match = re.search(r"VERSION\s*=\s*['\"]([^'\"]+)['\"]", version_file.read_text(errors="replace"))
            version = match.group(1) if match else ""
        commit = ""
        if (checkout / ".git").exists():
            try:
                commit = subprocess.run(
                    ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                commit = ""
        return " ".join(filter(None, [version, f"({commit})" if commit else ""])) or "unknown version"

    # preparing the run ---------------------------------------------------------------------------------
    def export_dataset(self, request: TrainingRequest, folder: Path) -> Path:
        """Photos and .txt captions as ai-toolkit reads them, `[trigger]` where the trigger word goes. A copy:
        ai-toolkit writes its latent cache into the dataset folder."""
        folder.mkdir(parents=True, exist_ok=True)
        wanted = set()
        for index, item in enumerate(request.dataset):
            stem = f"{index:04d}"
            target = folder / f"{stem}{Path(item.image).suffix.lower()}"
            if not target.exists() or target.stat().st_size != Path(item.image).stat().st_size:
                shutil.copyfile(item.image, target)
            caption = re.sub(rf"\b{re.escape(request.trigger_word)}\b", "[trigger]", item.caption)
            (folder / f"{stem}.txt").write_text(caption + "\n", encoding="utf-8")
            wanted |= {target.name, f"{stem}.txt"}
        for old in folder.iterdir():  # photos removed since the last run
            if old.is_file() and old.name not in wanted and not old.name.startswith("."):
                old.unlink()
        return folder

    def write_config(self, request: TrainingRequest, run_dir: Path, cuda: bool) -> Path:
        config = build_config(
            request, dataset_dir=run_dir / "dataset", training_folder=run_dir / "output", cuda=cuda
        )
        unknown = unknown_keys(config)
        if unknown:  # ai-toolkit would silently ignore them
            raise PluginError(
                f"The ai-toolkit config has keys ai-toolkit does not know: {', '.join(unknown)}."
            )
        path = run_dir / "job.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    # running ---------------------------------------------------------------------------------------------
    def run(self, request: TrainingRequest, ctx: RunContext) -> TrainingResult:
        avail = self.availability()
        if not avail.ok:
            raise PluginError(f"ai-toolkit is not available: {avail.reason}")
        if request.base.family not in self.families:
            raise PluginError(
                f"The ai-toolkit backend does not train {request.base.family} LoRAs; use the built-in trainer."
            )
        run_dir = Path(request.output_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        cuda = self.settings.gpu_name is not None
        version = self.toolkit_version()
        ctx.log("aitoolkit.start", f"ai-toolkit {version}", version=version, resume=request.resume)
        self.export_dataset(request, run_dir / "dataset")
        config = self.write_config(request, run_dir, cuda)
        save_root = run_dir / "output" / request.name
        env = dict(os.environ)
        env.update({"PYTHONUNBUFFERED": "1", "AITK_JOB_ID": request.job_id})
        if self.settings.hf_token:
            env["HF_TOKEN"] = self.settings.hf_token  # through the environment only, never into a file
        if not cuda:
            env.setdefault("CUDA_VISIBLE_DEVICES", "")
        elif (gpu := subprocess_gpu(request.device, env)) is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu  # the GPU this job holds, and no other
            ctx.log("aitoolkit.gpu", f"ai-toolkit runs on GPU {gpu}", device=request.device, visible=gpu)
        logs = Path(self.settings.subprocess_log_dir)
        parser = OutputParser(request.name)
        ctx.progress(
            phase="loading",
            total=request.params.steps,
            message=f"Starting ai-toolkit {version}" + (" (resuming)" if request.resume else ""),
        )
        process = Process(
            self.python(),
            self.checkout / "run.py",
            config,
            cwd=self.checkout,
            env=env,
            stdout_log=logs / f"train-{request.job_id}.stdout.log",
            stderr_log=logs / f"train-{request.job_id}.stderr.log",
            parser=parser,
            redact=_redact,
        )
        ctx.log(
            "aitoolkit.launched",
            f"ai-toolkit pid {process.popen.pid}",
            pid=process.popen.pid,
            config=str(config),
        )
        launched = time.time()
        try:
            cancelled = self._follow(process, parser, request, ctx, save_root, launched)
            code = process.wait()
        finally:
            seconds = _add_training_time(run_dir, time.time() - launched)
        state = parser.state
        final = save_root / f"{request.name}.safetensors"
        checkpoints = sorted(save_root.glob(f"{request.name}_*.safetensors"))
        ctx.log(
            "aitoolkit.exited",
            f"ai-toolkit exited with {code}",
            code=code,
            final=final.exists(),
            checkpoints=len(checkpoints),
            cancelled=bool(cancelled),
            seconds=round(seconds, 1),
        )
        if cancelled:
            raise Cancelled(_stopped_sentence(state.step, checkpoints, request.params.save_every))
        if code != 0 or state.error:
            tail = "\n".join(list(state.stderr_tail)[-8:]) or "\n".join(list(state.stdout_tail)[-8:])
            reason = state.error or f"it exited with code {code}"
            if OUT_OF_MEMORY.search(f"{reason}\n{tail}"):  # the core steps down and resumes (training/oom.py)
                done = [
                    int(c.stem.rsplit("_", 1)[1]) for c in checkpoints if c.stem.rsplit("_", 1)[1].isdigit()
                ]
                raise PluginError(
                    "The GPU ran out of memory.",
                    code="oom",
                    details={
                        "stage": "training" if state.step else "loading",
                        "phase": "training" if state.step else "preparing",
                        "on_gpu": cuda,
                        "resume_step": max(done, default=0),
                        "last_checkpoint": str(checkpoints[-1]) if checkpoints else None,
                    },
                )
            raise PluginError(f"ai-toolkit failed: {reason}\nLast output:\n{tail}", code="aitoolkit_failed")
        if not final.exists():
            raise PluginError(
                "ai-toolkit stopped before finishing (there is no final LoRA file). Resume it to "
                "continue from its last checkpoint."
            )
        return TrainingResult(
            lora_path=self._with_metadata(final, request, version, seconds),
            steps=request.params.steps,
            checkpoints=checkpoints,
            samples=sorted(p for p in (save_root / "samples").glob("*") if p.is_file()),
            final_loss=state.loss,
            metadata={"ai_toolkit_version": version},
            backend_version=f"{self.version} / ai-toolkit {version}",
        )

    def _follow(
        self,
        process: Process,
        parser: OutputParser,
        request: TrainingRequest,
        ctx: RunContext,
        save_root: Path,
        launched: float,
    ) -> str | None:
        """Report progress until ai-toolkit exits; stop it on cancel. Returns how it was stopped, if it was.
        Losses come from loss_log.db, only rows this process wrote (`launched`): a stopped run's rows stay
        in the file, and replaying them would show steps that are not being trained."""
        seen_samples: set[str] = set()
        seen_checkpoints: set[str] = set()
        last_step = 0
        messages = 0
        announced = False
        total = request.params.steps
        while process.running():
            if ctx.is_cancelled():
                ctx.progress(message="Stopping ai-toolkit (it may finish the step it is on)")
                how = process.stop(grace=self.stop_grace)
                ctx.log("aitoolkit.stopped", f"ai-toolkit stopped with {how}", signal=how)
                return how
            time.sleep(POLL_SECONDS)
            state = parser.state
            if state.resumed_from is not None and not announced:
                announced = True
                last_step = max(last_step, state.resumed_from)
                ctx.log(
                    "aitoolkit.resumed", f"resumed from step {state.resumed_from}", step=state.resumed_from
                )
                ctx.progress(
                    step=state.resumed_from,
                    total=total,
                    message=f"ai-toolkit resumed from step {state.resumed_from}",
                )
            for text in state.messages[messages:]:
                ctx.progress(message=text)
            messages = len(state.messages)
            rows = read_losses(save_root / "loss_log.db", last_step, since=launched)
            for step, loss in rows:
                ctx.progress(
                    phase="training",
                    step=step,
                    total=total,
                    loss=round(loss, 6),
                    it_s=state.it_s,
                    eta_s=round((total - step) / state.it_s, 1) if state.it_s else None,
                )
                last_step = step
            if not rows and state.step is not None and state.step > last_step:
                last_step = state.step
                ctx.progress(
                    phase="training",
                    step=state.step,
                    total=total,
                    loss=state.loss,
                    it_s=state.it_s,
                    eta_s=round((total - state.step) / state.it_s, 1) if state.it_s else None,
                )
            for path in sorted(save_root.glob(f"{request.name}_*.safetensors")):
                if path.name not in seen_checkpoints:
                    seen_checkpoints.add(path.name)
                    ctx.progress(checkpoint=str(path))
            found = new_samples(save_root / "samples", seen_samples)
            if found:  # `sample_step`, not `step`: samples are found after the step they were made at
                ctx.progress(samples=[str(path) for _, path in found], sample_step=max(s for s, _ in found))
        return None

    def _with_metadata(self, final: Path, request: TrainingRequest, version: str, seconds: float) -> Path:
        """ai-toolkit's final LoRA with Isengard's and kohya's metadata added to its own, rewritten in place
        (atomically) so the store keeps one copy."""
        from safetensors import safe_open
        from safetensors.numpy import save_file

        with safe_open(str(final), framework="numpy") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
            metadata = dict(handle.metadata() or {})
        p = request.params
        metadata.update(
            training_metadata(
                family=request.base.family,
                base_model=request.base.id,
                base_sha256=request.base.sha256,
                trigger_word=request.trigger_word,
                steps=p.steps,
                rank=p.rank,
                alpha=p.alpha,
                resolution=p.resolution,
                dataset_size=len(request.dataset),
                training_seconds=round(seconds, 1),
                learning_rate=p.learning_rate,
                optimizer=p.optimizer,
                backend=self.name,
                backend_version=version,
                name=request.name,
            )
        )
        partial = final.with_name(f".{final.name}.partial")
        try:
            save_file(tensors, str(partial), metadata=metadata)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        return final


def _add_training_time(run_dir: Path, seconds: float) -> float:
    """ai-toolkit's running time for this job, summed over its attempts (a resumed job counts both)."""
    import json

    record = run_dir / "isengard-time.json"
    try:
        total = float(json.loads(record.read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        total = 0.0
    total += max(0.0, seconds)
    partial = record.with_name(record.name + ".partial")
    try:
        partial.write_text(json.dumps({"seconds": round(total, 3)}))
        os.replace(partial, record)
    except OSError:  # a full disk must not hide the job's own outcome; the time is then this attempt's
        partial.unlink(missing_ok=True)
    return total


def _stopped_sentence(step: int | None, checkpoints: list[Path], save_every: int) -> str:
    at = f" at step {step}" if step else ""
    if checkpoints:
        kept = checkpoints[-1].stem.rsplit("_", 1)[-1].lstrip("0") or "0"
        return f"Stopped{at}. The checkpoint from step {kept} is kept: Resume continues from it."
    first = f" (step {save_every})" if save_every else ""
    return (
        f"Stopped{at}, before the first checkpoint{first}, so nothing was kept: Resume starts over from "
        "the beginning."
    )
