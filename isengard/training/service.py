"""The training service: from a character and a base model to a LoRA in the store, as a resumable job.
Shared by the Training tab and `python -m isengard train`.
"""

from __future__ import annotations

import time
import unicodedata
import uuid
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from isengard.characters.service import CharacterService
from isengard.errors import InputError, NotAvailableError
from isengard.evaluation.early_stop import StopDecision, decide
from isengard.evaluation.probes import probe_prompts
from isengard.evaluation.watch import LikenessWatch, load_summaries
from isengard.jobs import JobContext, JobRunner
from isengard.jobs.forwarding import ForwardingContext
from isengard.jobs.placement import run_plugin
from isengard.models.catalogue import BaseModel, Catalogue
from isengard.models.manager import ModelManager
from isengard.obs import event
from isengard.paths import Paths, safe_component
from isengard.training import oom
from isengard.training.presets import Preset, lighter_than, load_presets, recommend
from isengard.training.store import LoraStore
from plugins.base import Cancelled, PluginError, PluginRegistry, free_cuda
from plugins.training.interface import TrainingBackend, TrainingParams, TrainingRequest, TrainingResult


class _Recorder(ForwardingContext):
    """Passes progress on to the job, records each checkpoint in the LoRA store as it appears, has the
    probes scored as they appear and, with "Stop when it is done", asks the backend to stop (through the
    cancel every backend honours within a step) once the likeness says the run is done."""

    def __init__(self, ctx: JobContext, on_checkpoint, watch=None, *, patience: int | None = None):
        super().__init__(ctx)
        self._on_checkpoint = on_checkpoint
        self._watch = watch
        self._patience = patience  # None: no early stop
        self.checkpoints: dict[int, str] = {}
        self.stop: StopDecision | None = None

    def progress(self, **fields: Any) -> None:
        if fields.get("checkpoint"):
            self._on_checkpoint(fields["checkpoint"], fields.get("step"))
            if isinstance(fields.get("step"), int):
                self.checkpoints[fields["step"]] = fields["checkpoint"]
        self._ctx.progress(**fields)
        if self._watch is not None and fields.get("samples"):  # the probes: scored as they appear
            step = fields.get("sample_step", fields.get("step"))
            if isinstance(step, int):
                scored = self._watch.on_samples(step, list(fields["samples"]))
                if scored is not None:
                    self._ctx.progress(likeness=scored)
                    self._consider_stopping()

    def _consider_stopping(self) -> None:
        if self._patience is None or self.stop is not None:
            return
        self.stop = decide(load_summaries(self._watch.db, self.job_id), self._patience)
        if self.stop is not None:
            self._ctx.log(
                "training.early_stop",
                f"stopping: {self.stop.why}",
                best_step=self.stop.best_step,
                at_step=self.stop.at_step,
            )
            self._ctx.progress(message=f"Finishing early: {self.stop.why}")

    def is_cancelled(self) -> bool:
        return self.stop is not None or self._ctx.is_cancelled()

    def check_cancelled(self) -> None:
        if self.stop is not None:
            raise Cancelled(f"stopping early: {self.stop.why}")
        self._ctx.check_cancelled()


def checked_prompts(prompts: list[str] | None, trigger: str) -> list[str] | None:
    """A person's own sample prompts: 1–8, each naming the trigger word (the likeness needs the person)."""
    from isengard import validation

    if not prompts:
        return None
    cleaned = [validation.text("Sample prompt", p, max_length=500).strip() for p in prompts if str(p).strip()]
    if not 1 <= len(cleaned) <= 8:
        raise InputError("Give between 1 and 8 sample prompts (or none for the standard five).")
    missing = [p for p in cleaned if trigger.lower() not in p.lower()]
    if missing:
        raise InputError(
            f"Each sample prompt must contain the trigger word {trigger!r}: {missing[0]!r} does not.",
            hint="The samples are how Isengard measures the likeness, so they must show the person.",
        )
    return cleaned


def lora_stem(character_name: str, trigger: str, family: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", character_name).encode("ascii", "ignore").decode().lower()
    base = safe_component(ascii_name.replace(" ", "_"), fallback="") or trigger
    return f"{base}_{family}_{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}"


class TrainingService:
    def __init__(
        self,
        *,
        paths: Paths,
        registry: PluginRegistry,
        runner: JobRunner,
        catalogue: Catalogue,
        characters: CharacterService,
        models: ModelManager,
        store: LoraStore,
        default_backend: str,
        vram_gb,
    ):
        self.paths = paths
        self.registry = registry
        self.runner = runner
        self.catalogue = catalogue
        self.characters = characters
        self.models = models
        self.store = store
        self.default_backend = default_backend
        self._vram_gb = vram_gb
        self.presets: list[Preset] = load_presets()
        runner.register("train", self._run_job, uses_gpu=True, resumable=True)
        characters.on_delete_loras(store.files_for_character)

    # choices ---------------------------------------------------------------------------------------------
    def backend(self, name: str | None = None) -> TrainingBackend:
        try:
            plugin = self.registry.get("training", name or self.default_backend)
        except KeyError:
            known = ", ".join(self.registry.names("training"))
            raise InputError(f"There is no training backend called {name!r} (known: {known}).") from None
        assert isinstance(plugin, TrainingBackend)
        return plugin

    def preset(self, preset_id: str) -> Preset:
        for preset in self.presets:
            if preset.id == preset_id:
                return preset
        raise InputError(
            f"There is no preset {preset_id!r}.", hint=f"Known: {', '.join(p.id for p in self.presets)}."
        )

    def presets_for(self, model: BaseModel) -> list[Preset]:
        return [p for p in self.presets if p.fits(model.family, model.tiny)]

    def recommend(self, model_id: str) -> tuple[Preset, str]:
        model = self.catalogue.get(model_id)
        return recommend(self.presets, model.family, tiny=model.tiny, vram_gb=self._vram_gb())

    def params_for(
        self, model_id: str, preset_id: str | None, overrides: dict[str, Any] | None
    ) -> tuple[Preset, TrainingParams]:
        model = self.catalogue.get(model_id)
        preset = self.preset(preset_id) if preset_id else self.recommend(model_id)[0]
        if not preset.fits(model.family, model.tiny):
            raise InputError(f"The preset {preset.label!r} is not for {model.label}.")
        return preset, preset.training_params(**(overrides or {}))

    def training_model(self, model: BaseModel) -> BaseModel:
        """What a LoRA for `model` trains on: its undistilled sibling where the catalogue names one
        (FLUX.2 [klein] trains on [klein] Base); the LoRA is then used on `model`."""
        return self.catalogue.get(model.trains_on) if model.trains_on else model

    # submitting --------------------------------------------------------------------------------------
    def submit(
        self,
        character_ref: int | str,
        *,
        base_model: str,
        backend: str | None = None,
        preset: str | None = None,
        overrides: dict[str, Any] | None = None,
        sample_prompts: list[str] | None = None,
    ) -> str:
        """Queue a training. `sample_prompts` replace the probe set (the five framings) for the samples."""
        character = self.characters.get(character_ref)
        if character.photo_count == 0:
            raise InputError(f"{character.name} has no photos yet: add some in the Characters tab first.")
        if self.training_now(character.id):
            raise InputError(
                f"{character.name} is already training: wait for it to finish, or stop it first.",
                field="start",
            )
        model = self.catalogue.get(base_model)
        plugin = self.backend(backend)
        avail = plugin.availability()
        if not avail.ok:
            raise NotAvailableError(f"The {plugin.label or plugin.name} is not available: {avail.reason}")
        if model.family not in plugin.families:
            raise InputError(f"The {plugin.label} cannot train {model.label} models.")
        if plugin.needs_weights:
            self.models.ensure_can_start(self.training_model(model))  # explained now, not failed later
        chosen, params = self.params_for(model.id, preset, overrides)
        name = lora_stem(character.name, character.trigger_word, model.family)
        job_id = self.runner.submit(
            "train",
            {
                "character_id": character.id,
                "base_model": model.id,
                "backend": plugin.name,
                "preset": chosen.id,
                "params": asdict(params),
                "name": name,
                "sample_prompts": checked_prompts(sample_prompts, character.trigger_word),
            },
            title=f"Train {character.name} on {model.label}",
        )
        event(
            "training.submitted",
            f"training {character.name} on {model.id}",
            job_id=job_id,
            backend=plugin.name,
            preset=chosen.id,
            steps=params.steps,
            rank=params.rank,
        )
        return job_id

    # running -----------------------------------------------------------------------------------------
    def _run_job(self, ctx: JobContext, job: dict[str, Any]) -> dict[str, Any]:
        character = self.characters.get(job["character_id"])
        model = self.catalogue.get(job["base_model"])
        plugin = self.backend(job["backend"])
        params = TrainingParams(
            **{f.name: job["params"][f.name] for f in fields(TrainingParams) if f.name in job["params"]}
        )
        trained = self.training_model(model)
        if plugin.needs_weights:
            base = self.models.resolve(trained, progress=ctx.progress, for_training=True)
        else:
            base = trained.ref()
        dataset = self.characters.dataset(character.id)
        if not dataset:
            raise InputError(f"{character.name} has no photos left to train on.")
        trigger, cls = character.trigger_word, character.class_word
        request = TrainingRequest(
            job_id=ctx.job_id,
            name=job["name"],
            trigger_word=trigger,
            dataset=dataset,
            base=base,
            params=params,
            output_dir=self.paths.training_run_dir(ctx.job_id),
            sample_prompts=list(job.get("sample_prompts") or probe_prompts(trigger, cls)),
            class_word=cls,
            character=character.name,
            resume=bool(job.get("resume")),
            device=ctx.device,
        )
        common = {
            "name": job["name"],
            "family": model.family,
            "base_model": model.id,
            "character_id": character.id,
            "character_name": character.name,
            "trigger_word": trigger,
            "job_id": ctx.job_id,
            "backend": plugin.name,
        }

        def on_checkpoint(path: str, step: int | None) -> None:
            self.store.record(path, kind="checkpoint", step=step, **common)

        watch = self._watch(ctx.job_id, request, character.id)
        patience = params.stop_patience if params.stop_when_done and watch is not None else None
        recorder = _Recorder(ctx, on_checkpoint, watch, patience=patience)
        started, early = time.monotonic(), None
        while True:
            try:
                result = run_plugin(plugin, request, recorder)
            except Cancelled:
                if recorder.stop is None or ctx.is_cancelled():  # the person's Stop: the job ends cancelled
                    raise
                result, early = self._stopped_early(request, recorder, watch, plugin)
            except PluginError as exc:
                if exc.code != "oom":
                    raise
                request = self._lighter(ctx, model.family, request, exc, job["preset"])
                continue  # the same run, lighter, from its last checkpoint
            break
        own = Path(result.lora_path).resolve().is_relative_to(Path(request.output_dir).resolve())
        final = self.store.keep_final(result.lora_path, character.id, job["name"], move=own and not early)
        recommendation = self._recommend(watch, result, final)
        metadata = {**result.metadata, **({"recommendation": recommendation} if recommendation else {})}
        if early:
            metadata["early_stop"] = early["sentence"]
            ctx.progress(message=early["sentence"])
        record = self.store.record(final, kind="final", step=result.steps, metadata=metadata, **common)
        for checkpoint in result.checkpoints:
            if checkpoint.exists():
                on_checkpoint(str(checkpoint), int(checkpoint.stem.rsplit("_", 1)[1]))
        seconds = time.monotonic() - started
        ctx.log(
            "training.finished",
            f"LoRA {final.name} saved after {seconds:.1f}s",
            lora_id=record.id,
            steps=result.steps,
            final_loss=result.final_loss,
        )
        return {
            "lora_id": record.id,
            "lora_path": str(final),
            "steps": result.steps,
            "final_loss": result.final_loss,
            "checkpoints": [str(c) for c in result.checkpoints if c.exists()],
            "samples": [str(s) for s in result.samples],
            "seconds": round(seconds, 2),
            "backend_version": result.backend_version,
            "recommendation": recommendation,
            "early_stop": early,
        }

    def _lighter(
        self, ctx: JobContext, family: str, request: TrainingRequest, exc: PluginError, preset: str
    ) -> TrainingRequest:
        """After an out-of-memory: the same request with lighter settings, resuming (oom.py)."""
        free_cuda()
        if not exc.details.get("recoverable", True):  # a backend that cannot resume with other settings
            lighter = lighter_than(self.presets, preset)
            advice = f" Try the lighter preset “{lighter.label}”." if lighter else ""
            raise PluginError(f"{exc}{advice} The last checkpoint is kept.", code="oom") from None
        params, sentence = oom.step_down(family, request.params, exc)
        oom.record(self.runner, ctx.job_id, params, sentence)
        ctx.progress(message=sentence)
        return replace(request, params=params, resume=True)

    def training_now(self, character_id: int):
        """The character's training that is queued or running, if any (whoever started it, wherever)."""
        active = self.runner.active_for("character_id", int(character_id), kinds=("train",))
        return active[0] if active else None

    def _stopped_early(self, request: TrainingRequest, recorder: _Recorder, watch, plugin):
        """The run stopped itself: its best clean checkpoint becomes the LoRA (a copy: the checkpoints
        stay as they are), as if the training had been that long."""
        files = dict(recorder.checkpoints)
        for path in Path(request.output_dir).glob(f"{request.name}_*.safetensors"):
            suffix = path.stem.rsplit("_", 1)[-1]
            if suffix.isdigit() and len(suffix) == 9:
                files[int(suffix)] = str(path)
        files = {step: path for step, path in files.items() if Path(path).exists()}
        stop = recorder.stop
        best = watch.recommend(set(files))["step"]
        if best is None:
            raise PluginError(f"The training stopped itself ({stop.why}), but no checkpoint was kept to use.")
        stopped_at = max(files)
        total = request.params.steps
        early = {
            "stopped_at": stopped_at,
            "total": total,
            "best_step": best,
            "why": stop.why,
            "saved_share": round(max(0, total - stopped_at) / total, 3),
            "sentence": StopDecision(best, stop.at_step, stop.why).sentence(stopped_at, total),
        }
        event("training.stopped_early", early["sentence"], job_id=request.job_id, **early)
        result = TrainingResult(
            lora_path=Path(files[best]),
            steps=best,
            checkpoints=[Path(files[step]) for step in sorted(files)],
            backend_version=plugin.version,
        )
        return result, early

    def _watch(self, job_id: str, request: TrainingRequest, character_id: int) -> LikenessWatch | None:
        """Likeness scoring for this run, when an evaluation plugin can run here."""
        plugin = self.registry.first_available("evaluation")
        if plugin is None:
            return None
        return LikenessWatch(
            db=self.runner.db,
            evaluator=plugin,
            job_id=job_id,
            photos=[item.image for item in request.dataset],
            prompts=request.sample_prompts,
            name=request.character or request.trigger_word,
            photo_names=self.characters.photo_names(character_id),
        )

    def _recommend(self, watch, result, final: Path) -> dict[str, Any] | None:
        """The checkpoint that looks most like the person (its file: a checkpoint or the final LoRA)."""
        if watch is None:
            return None
        files = {int(c.stem.rsplit("_", 1)[1]): str(c) for c in result.checkpoints if c.exists()}
        files[result.steps] = str(final)
        recommendation = watch.recommend(set(files))
        recommendation["file"] = files.get(recommendation["step"]) if recommendation["step"] else None
        event("likeness.recommended", recommendation["reason"], **recommendation)
        return recommendation

    # reading -------------------------------------------------------------------------------------------
    def loss_curve(self, job_id: str) -> list[tuple[int, float]]:
        """Loss per step of the steps the LoRA really went through: a resume goes back to its checkpoint,
        so what the stopped attempt trained past that step is dropped (a step reported lower than the
        points so far marks the rewind)."""
        points: dict[int, float] = {}
        for e in self.runner.events(job_id, type_="progress"):
            step = e.data.get("step")
            if not isinstance(step, int):
                continue
            if points and step < max(points):
                points = {s: v for s, v in points.items() if s <= step}
            if "loss" in e.data:
                points[step] = e.data["loss"]
        return sorted(points.items())

    def samples(self, job_id: str) -> list[tuple[int, str]]:
        out = []
        for e in self.runner.events(job_id, type_="progress"):
            for path in e.data.get("samples", []):
                out.append((e.data.get("sample_step", e.data.get("step", 0)), path))
        return out
