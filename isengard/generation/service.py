"""Image generation: validate a form, run it as a job on an image backend, save PNGs with metadata, and
keep the history. Shared by the Image Gen tab and `python -m isengard generate`.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from isengard import validation
from isengard.errors import InputError, NotAvailableError
from isengard.evaluation.badges import likeness_badges
from isengard.generation.metadata import SAMPLER_NAMES, ImageParameters, LoraUse, write_png
from isengard.jobs import JobContext, JobRunner
from isengard.jobs.placement import run_plugin
from isengard.models.catalogue import BaseModel, Catalogue
from isengard.obs import event
from isengard.paths import Paths
from isengard.storage.db import Database, dumps, loads
from isengard.storage.files import file_sha256, reserve_file
from plugins.base import ModelRef, PluginRegistry
from plugins.families import FAMILY_INFO
from plugins.image.interface import SCHEDULERS, ImageBackend, ImageRequest, LoraRef
from plugins.lora_format import LoraFileError, read_lora_info

MAX_STEPS = 150
MAX_PROMPT = 4000
MAX_LORAS = 8
MAX_SEED = 2**32 - 1
SEED_HINT = "-1 picks a random seed."
FAMILY_DEFAULTS = {
    name: {"resolution": info.resolution, "steps": info.steps, "guidance": info.guidance_value}
    for name, info in FAMILY_INFO.items()
}
MAX_COUNT = 8
MIN_SIDE, MAX_SIDE = 64, 2048


@dataclass
class GenerateForm:
    prompt: str
    negative_prompt: str = ""
    backend: str | None = None
    base_model: str | None = None
    loras: list[dict[str, Any]] = field(default_factory=list)  # [{"path": str, "strength": float}]
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    scheduler: str = "default"
    seed: int = -1  # -1: a random seed, shown afterwards
    count: int = 1
    character_id: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerateForm:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class PreparedGeneration:
    form: GenerateForm
    backend: str
    model: BaseModel
    notes: list[str]


def checkpoint_name(model: BaseModel) -> str:
    """The model's own name for the A1111 `parameters` text: a server's file name (without its extension,
    as A1111 writes it), never Isengard's internal id."""
    if model.custom and "/" in str(model.source):
        return Path(str(model.source)).stem
    return model.id


class GenerationService:
    def __init__(
        self,
        *,
        db: Database,
        paths: Paths,
        registry: PluginRegistry,
        runner: JobRunner,
        catalogue: Catalogue,
        default_backend: str,
        default_base: str,
        resolve_base=None,
        characters=None,
        loras=None,
        config=None,
        vram_gb=lambda: None,
    ):
        self.db = db
        self.paths = paths
        self.registry = registry
        self.runner = runner
        self.catalogue = catalogue
        self.default_backend = default_backend
        self.default_base = default_base
        self._resolve_base = resolve_base or (lambda model, ctx: model.ref())
        self.characters = characters
        self.loras = loras
        self.config = config
        self._vram_gb = vram_gb
        self.extra_lora_roots: list[Path] = []  # e.g. a ComfyUI server's own LoRA folder
        self._hash_cache: dict[tuple[str, float, int], str] = {}
        runner.register("generate", self._run_job, uses_gpu=True)

    # validation -------------------------------------------------------------------------------------
    def backend(self, name: str | None = None) -> ImageBackend:
        name = name or self.default_backend
        try:
            plugin = self.registry.get("image", name)
        except KeyError:
            raise InputError(f"There is no image backend called {name!r}.") from None
        assert isinstance(plugin, ImageBackend)
        return plugin

    def prepare(self, form: GenerateForm) -> PreparedGeneration:
        """Check and complete a form; raise InputError with one clear sentence on bad input."""
        notes: list[str] = []
        prompt = validation.text("The prompt", form.prompt, max_length=MAX_PROMPT).strip()
        if not prompt:
            raise InputError("Write a prompt first: describe the picture you want.", field="prompt")
        negative = validation.text("The negative prompt", form.negative_prompt, max_length=MAX_PROMPT)
        for name in ("backend", "base_model", "scheduler"):
            value = getattr(form, name)
            if value is not None and not isinstance(value, str):
                raise InputError(f"The {name.replace('_', ' ')} must be a name, not {type(value).__name__}.")
        backend = self.backend(form.backend)
        avail = backend.availability()
        if not avail.ok:
            raise NotAvailableError(
                f"The {backend.label or backend.name} backend is not available: {avail.reason}"
            )
        model = self.model_for(backend, form.base_model or self.default_base_for(backend))
        if backend.families and model.family not in backend.families:
            raise InputError(f"The {backend.name} backend cannot run {model.label} models.")
        steps = (
            model.default_steps
            if form.steps is None
            else validation.whole_number(
                "Steps",
                form.steps,
                1,
                MAX_STEPS,
                hint=f"{model.default_steps} suits {model.label}.",
                field="steps",
            )
        )
        count = validation.whole_number(
            "Number of pictures", 1 if form.count is None else form.count, 1, MAX_COUNT, field="count"
        )
        guidance = (
            model.default_guidance
            if form.guidance is None
            else validation.real_number(
                "Guidance",
                form.guidance,
                0,
                30,
                hint=f"{model.default_guidance:g} suits {model.label}.",
                field="guidance",
            )
        )
        if form.scheduler not in SCHEDULERS:
            raise InputError(
                f"Unknown sampler {form.scheduler!r}.", hint=f"Use one of {', '.join(SCHEDULERS)}."
            )
        width, height = self._snap_size(
            form.width or model.resolution,
            form.height or model.resolution,
            backend.size_factor(model.family),
            notes,
        )
        seed = (
            -1
            if form.seed is None
            else validation.whole_number("Seed", form.seed, -1, MAX_SEED, hint=SEED_HINT)
        )
        if seed < 0:
            seed = random.randint(0, MAX_SEED)
        if not isinstance(form.loras, list | tuple) or not all(isinstance(e, dict) for e in form.loras):
            raise InputError("LoRAs must be a list of {path, strength} entries.")
        if len(form.loras) > MAX_LORAS:
            raise InputError(f"Use at most {MAX_LORAS} LoRAs at once.")
        entries = list(form.loras)
        if form.character_id is not None:
            form.character_id = validation.whole_number("The character", form.character_id, 1, 2**62)
            prompt, entries = self._with_character(form, prompt, entries, model, notes)
        loras = [self._check_lora(entry, model) for entry in entries]
        resolved = GenerateForm(
            prompt=prompt,
            negative_prompt=negative.strip(),
            backend=backend.name,
            base_model=model.id,
            loras=loras,
            width=width,
            height=height,
            steps=steps,
            guidance=guidance,
            scheduler=form.scheduler,
            seed=seed,
            count=count,
            character_id=form.character_id,
        )
        return PreparedGeneration(resolved, backend.name, model, notes)

    @staticmethod
    def _snap_size(width: int, height: int, factor: int, notes: list[str]) -> tuple[int, int]:
        w = validation.whole_number("Width", width, MIN_SIDE, MAX_SIDE, hint="Sizes are in pixels.")
        h = validation.whole_number("Height", height, MIN_SIDE, MAX_SIDE, hint="Sizes are in pixels.")
        sw, sh = max(factor, round(w / factor) * factor), max(factor, round(h / factor) * factor)
        if (sw, sh) != (w, h):
            notes.append(f"Size {w}×{h} was changed to {sw}×{sh}: this model needs multiples of {factor}.")
        return sw, sh

    def default_base_for(self, backend: ImageBackend) -> str:
        """The base a request without one gets: a backend with its own models (a ComfyUI server) offers
        one of them that it can run; otherwise the studio's default."""
        offered = backend.base_models()
        if offered is None:
            return self.default_base
        runnable = [r for r in offered if not backend.families or r.family in backend.families]
        if not runnable:
            have = ", ".join(Path(r.source).name for r in offered) or "no models at all"
            raise InputError(
                f"The {backend.label or backend.name} has no model Isengard can run (it has: {have}).",
                hint="Put an SD 1.5, SDXL or FLUX checkpoint in its models folder, then try again.",
            )
        checkpoints = [r for r in runnable if r.source.startswith("checkpoints/")]
        return (checkpoints or runnable)[0].id

    def model_for(self, backend: ImageBackend, model_id: str) -> BaseModel:
        """A catalogue model, or one the backend offers itself (a ComfyUI server's checkpoints), by its id
        or by the file name the server shows (`my_model.safetensors`)."""
        if model_id in self.catalogue.ids():
            return self.catalogue.get(model_id)
        offered = backend.base_models() or []
        for ref in offered:
            if model_id in (ref.id, ref.source, Path(ref.source).name):
                defaults = FAMILY_DEFAULTS[ref.family]
                return BaseModel(
                    id=ref.id,
                    label=ref.label or ref.id,
                    family=ref.family,
                    source=ref.source,
                    resolution=defaults["resolution"],
                    custom=True,
                    defaults={"steps": defaults["steps"], "guidance": defaults["guidance"]},
                )
        known = [*self.catalogue.ids(), *(Path(r.source).name for r in offered)]
        raise InputError(f"There is no base model {model_id!r}.", hint=f"Known: {', '.join(known)}.")

    def _with_character(
        self, form: GenerateForm, prompt: str, entries: list, model: BaseModel, notes: list[str]
    ) -> tuple[str, list]:
        """A character brings its trigger word and, unless LoRAs were chosen, its newest training's
        recommended checkpoint (or final LoRA)."""
        if self.characters is None:
            raise InputError("Characters are not available here.")
        character = self.characters.get(int(form.character_id))
        if not entries:
            chosen, why = self.loras.preferred_for_character(character.id) if self.loras else (None, None)
            if chosen is None:
                raise InputError(f"{character.name} has no trained LoRA yet: train one in the Training tab.")
            strength = self.config.default_lora_strength if self.config else 1.0
            entries = [{"path": str(chosen.path), "strength": strength, "name": chosen.name}]
            if why:
                notes.append(f"Using the recommended checkpoint: {why}")
        if not re.search(rf"\b{re.escape(character.trigger_word)}\b", prompt):
            prompt = f"{character.trigger_word}, {prompt}"
            notes.append(f"Added {character.name}'s trigger word '{character.trigger_word}' to the prompt.")
        return prompt, entries

    def _check_lora(self, entry: dict[str, Any], model: BaseModel) -> dict[str, Any]:
        raw_path = entry.get("path")
        if not isinstance(raw_path, str) or not raw_path.strip():
            raise InputError("Each LoRA needs the file it is in.")
        path = self._allowed_lora_path(Path(raw_path).expanduser())
        strength = validation.real_number(
            "LoRA strength", entry.get("strength", 1.0), -4, 4, hint="0.6–1.0 is typical."
        )
        try:
            info = read_lora_info(path)
        except LoraFileError as exc:
            raise InputError(f"The LoRA cannot be used: {exc}") from None
        if info.family and info.family != model.family:
            from plugins.base import FAMILY_LABELS

            raise InputError(
                f"The LoRA {path.name} was trained for {FAMILY_LABELS[info.family]}, but the base model is "
                f"{model.label}.",
                hint=f"Pick a {FAMILY_LABELS[info.family]} base model, or a LoRA trained for {model.label}.",
            )
        return {
            "path": str(path.resolve()),
            "strength": strength,
            "name": entry.get("name") or path.stem,
            "family": info.family,
            "sha256": self.file_hash(path),
        }

    def _allowed_lora_path(self, path: Path) -> Path:
        """LoRAs come from the LoRA store, training runs or the person's uploads — no other file is read."""
        resolved = path.resolve()
        roots = [self.paths.loras, self.paths.training_runs, self.paths.uploads, *self.extra_lora_roots]
        if not any(resolved.is_relative_to(Path(root).resolve()) for root in roots):
            raise InputError(
                f"{path.name} is not one of Isengard's LoRAs.",
                hint="Import it in the Image Gen tab (LoRA file), or pass it to `generate --lora`, which imports it.",
            )
        return resolved

    def file_hash(self, path: Path) -> str:
        """sha256 of a LoRA file, cached by path, size and time (each file is hashed once)."""
        stat = path.stat()
        key = (str(path), stat.st_mtime, stat.st_size)
        if key not in self._hash_cache:
            self._hash_cache[key] = file_sha256(path)
        return self._hash_cache[key]

    # submitting -------------------------------------------------------------------------------------
    def submit(
        self, form: GenerateForm, *, correlation_id: str | None = None
    ) -> tuple[str, PreparedGeneration]:
        prepared = self.prepare(form)
        f = prepared.form
        title = f"Generate {f.count} image{'s' if f.count > 1 else ''} ({prepared.model.label})"
        job_id = self.runner.submit(
            "generate",
            {"form": asdict(f), "notes": prepared.notes},
            title=title,
            correlation_id=correlation_id,
        )
        event(
            "generation.submitted",
            title,
            job_id=job_id,
            backend=prepared.backend,
            model=prepared.model.id,
            seed=f.seed,
            steps=f.steps,
            size=f"{f.width}x{f.height}",
            loras=len(f.loras),
        )
        return job_id, prepared

    def build_request(
        self, form: GenerateForm, ctx: JobContext
    ) -> tuple[ImageBackend, BaseModel, ModelRef, ImageRequest]:
        """The backend's request for a prepared form (its base model resolved; downloaded if needed)."""
        backend = self.backend(form.backend)
        model = self.model_for(backend, form.base_model or self.default_base_for(backend))
        ctx.progress(phase="loading", message=f"Preparing {model.label}")
        base_ref: ModelRef = self._resolve_base(model, ctx) if backend.needs_weights else model.ref()
        request = ImageRequest(
            prompt=form.prompt,
            negative_prompt=form.negative_prompt,
            base=base_ref,
            loras=[
                LoraRef(
                    Path(lo["path"]),
                    float(lo["strength"]),
                    lo.get("name", ""),
                    sha256=lo.get("sha256"),
                    family=lo.get("family"),
                )
                for lo in form.loras
            ],
            width=int(form.width),
            height=int(form.height),
            steps=int(form.steps),
            guidance=float(form.guidance),
            scheduler=form.scheduler,
            seed=int(form.seed),
            count=int(form.count),
            options=self.config.options(model.family, self._job_vram(ctx), int(form.width), int(form.height))
            if self.config
            else {},
            device=ctx.device,
        )
        return backend, model, base_ref, request

    def _job_vram(self, ctx: JobContext) -> float | None:
        """The memory of the GPU this job holds (GPUs of one machine may differ), else the studio's."""
        place = ctx.place
        return place.vram_gb if place is not None and place.vram_gb else self._vram_gb()

    def _run_job(self, ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        form = GenerateForm.from_dict(params["form"])
        notes = list(params.get("notes", []))
        backend, model, base_ref, request = self.build_request(form, ctx)
        ctx.progress(phase="generating", step=0, total=request.steps * request.count, message="Generating")
        started = time.monotonic()
        try:
            result = run_plugin(backend, request, ctx)
        finally:
            preview = ctx.snapshot.get("preview")
            if preview and Path(preview).is_relative_to(self.paths.tmp):
                Path(preview).unlink(missing_ok=True)  # the live preview is done with once the job ends
        notes.extend(result.notes)
        gen_id = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}"
        folder = self.paths.outputs_day(time.strftime("%Y-%m-%d"))
        sampler = result.info.get("sampler") or SAMPLER_NAMES.get(form.scheduler, "Default")
        loras = [
            LoraUse(lo["name"], float(lo["strength"]), self.file_hash(Path(lo["path"]))[:10])
            for lo in form.loras
        ]
        saved = []
        for index, generated in enumerate(result.images):
            meta = ImageParameters(
                prompt=form.prompt,
                negative_prompt=form.negative_prompt,
                steps=int(form.steps),
                sampler=sampler,
                guidance=float(form.guidance),
                seed=generated.seed,
                width=generated.image.width,
                height=generated.image.height,
                model=checkpoint_name(model),
                family=model.family,
                model_hash=(base_ref.sha256 or "")[:10] or None,
                loras=loras,
                backend=backend.name,
            )
            request_json = asdict(form) | {"seed": generated.seed, "count": 1, "generation_id": gen_id}
            target = reserve_file(folder, f"{gen_id}_{index}", ".png")  # never over an earlier picture
            try:
                path = write_png(target, generated.image, meta, request_json, generated.png_text)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            saved.append({"path": str(path), "seed": generated.seed})
        self._add_badges(form, saved)
        elapsed = time.monotonic() - started
        self.db.execute(
            "INSERT INTO generations(id, job_id, created_at, backend, base_model, prompt, negative_prompt, params,"
            " images, notes, character_id, correlation_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                gen_id,
                ctx.job_id,
                time.time(),
                backend.name,
                model.id,
                form.prompt,
                form.negative_prompt,
                dumps(asdict(form)),
                dumps(saved),
                dumps(notes),
                form.character_id,
                ctx.correlation_id,
            ),
        )
        ctx.log(
            "generation.saved",
            f"{len(saved)} image(s) saved",
            generation_id=gen_id,
            seconds=round(elapsed, 3),
            info=result.info,
        )
        return {
            "generation_id": gen_id,
            "images": saved,
            "notes": notes,
            "seconds": round(elapsed, 3),
            "info": result.info,
        }

    def _add_badges(self, form: GenerateForm, saved: list[dict[str, Any]]) -> None:
        """Pictures made with a character get their likeness badge (face found, 0–100)."""
        if form.character_id is None or self.characters is None or not saved:
            return
        evaluator = self.registry.first_available("evaluation")
        if evaluator is None:
            return
        photos = [Path(item.image) for item in self.characters.dataset(int(form.character_id))]
        badges = likeness_badges(evaluator, photos, [Path(s["path"]) for s in saved])
        for entry, badge in zip(saved, badges, strict=True):
            entry["likeness"] = badge

    # history ----------------------------------------------------------------------------------------
    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM generations ORDER BY created_at DESC LIMIT ?", (limit,))
        return [self._row(r) for r in rows]

    def get(self, generation_id: str) -> dict[str, Any]:
        row = self.db.one("SELECT * FROM generations WHERE id=?", (generation_id,))
        if row is None:
            raise InputError(f"There is no generation {generation_id}.")
        return self._row(row)

    @staticmethod
    def _row(row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "job_id": row["job_id"],
            "created_at": row["created_at"],
            "backend": row["backend"],
            "base_model": row["base_model"],
            "prompt": row["prompt"],
            "negative_prompt": row["negative_prompt"],
            "params": loads(row["params"], {}),
            "images": loads(row["images"], []),
            "notes": loads(row["notes"], []),
            "character_id": row["character_id"],
        }
