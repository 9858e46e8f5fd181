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

from isengard.errors import InputError, NotAvailableError
from isengard.generation.metadata import SAMPLER_NAMES, ImageParameters, LoraUse, write_png
from isengard.jobs import JobContext, JobRunner
from isengard.models.catalogue import BaseModel, Catalogue
from isengard.obs import event
from isengard.paths import Paths
from isengard.storage.db import Database, dumps, loads
from isengard.storage.files import file_sha256
from plugins.base import ModelRef, PluginRegistry
from plugins.image.interface import SCHEDULERS, ImageBackend, ImageRequest, LoraRef
from plugins.lora_format import LoraFileError, read_lora_info

MAX_STEPS = 150
FAMILY_DEFAULTS = {
    "flux": {"resolution": 1024, "steps": 28, "guidance": 3.5},
    "sdxl": {"resolution": 1024, "steps": 30, "guidance": 6.0},
    "sd15": {"resolution": 512, "steps": 30, "guidance": 7.0},
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
        prompt = (form.prompt or "").strip()
        if not prompt:
            raise InputError("Write a prompt first: describe the picture you want.")
        backend = self.backend(form.backend)
        avail = backend.availability()
        if not avail.ok:
            raise NotAvailableError(
                f"The {backend.label or backend.name} backend is not available: {avail.reason}"
            )
        model = self.model_for(backend, form.base_model or self.default_base)
        if backend.families and model.family not in backend.families:
            raise InputError(f"The {backend.name} backend cannot run {model.label} models.")
        steps = model.default_steps if form.steps is None else int(form.steps)
        if steps < 1:
            raise InputError("Steps must be at least 1.")
        if steps > MAX_STEPS:
            raise InputError(f"{steps} steps is too many: use at most {MAX_STEPS} (20–40 is typical).")
        count = int(form.count or 1)
        if not 1 <= count <= MAX_COUNT:
            raise InputError(f"Make between 1 and {MAX_COUNT} images at a time.")
        guidance = model.default_guidance if form.guidance is None else float(form.guidance)
        if not 0 <= guidance <= 30:
            raise InputError("Guidance must be between 0 and 30.")
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
            int(form.seed) if form.seed is not None and int(form.seed) >= 0 else random.randint(0, 2**32 - 1)
        )
        entries = list(form.loras)
        if form.character_id is not None:
            prompt, entries = self._with_character(form, prompt, entries, model, notes)
        loras = [self._check_lora(entry, model) for entry in entries]
        resolved = GenerateForm(
            prompt=prompt,
            negative_prompt=(form.negative_prompt or "").strip(),
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
        try:
            w, h = int(width), int(height)
        except (TypeError, ValueError):
            raise InputError("Width and height must be whole numbers of pixels.") from None
        if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
            raise InputError(
                f"Width and height must be between {MIN_SIDE} and {MAX_SIDE} pixels (got {w}×{h})."
            )
        sw, sh = max(factor, round(w / factor) * factor), max(factor, round(h / factor) * factor)
        if (sw, sh) != (w, h):
            notes.append(f"Size {w}×{h} was changed to {sw}×{sh}: this model needs multiples of {factor}.")
        return sw, sh

    def model_for(self, backend: ImageBackend, model_id: str) -> BaseModel:
        """A catalogue model, or one the backend offers itself (a ComfyUI server's checkpoints)."""
        if model_id in self.catalogue.ids():
            return self.catalogue.get(model_id)
        offered = backend.base_models() or []
        for ref in offered:
            if ref.id == model_id:
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
        return self.catalogue.get(model_id)  # the catalogue's clear "no such model" error

    def _with_character(
        self, form: GenerateForm, prompt: str, entries: list, model: BaseModel, notes: list[str]
    ) -> tuple[str, list]:
        """A character brings its trigger word and, unless LoRAs were chosen, its newest LoRA."""
        if self.characters is None:
            raise InputError("Characters are not available here.")
        character = self.characters.get(int(form.character_id))
        if not entries:
            newest = self.loras.newest_for_character(character.id) if self.loras else None
            if newest is None:
                raise InputError(f"{character.name} has no trained LoRA yet: train one in the Training tab.")
            strength = self.config.default_lora_strength if self.config else 1.0
            entries = [{"path": str(newest.path), "strength": strength, "name": newest.name}]
        if not re.search(rf"\b{re.escape(character.trigger_word)}\b", prompt):
            prompt = f"{character.trigger_word}, {prompt}"
            notes.append(f"Added {character.name}'s trigger word '{character.trigger_word}' to the prompt.")
        return prompt, entries

    def _check_lora(self, entry: dict[str, Any], model: BaseModel) -> dict[str, Any]:
        path = Path(str(entry.get("path", ""))).expanduser()
        strength = float(entry.get("strength", 1.0))
        if not -4.0 <= strength <= 4.0:
            raise InputError(f"LoRA strength {strength:g} is out of range (use -4 to 4; 0.6–1.0 is typical).")
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

    def _run_job(self, ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        form = GenerateForm.from_dict(params["form"])
        notes = list(params.get("notes", []))
        backend = self.backend(form.backend)
        model = self.model_for(backend, form.base_model or self.default_base)
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
            options=self.config.options(model.family, self._vram_gb(), int(form.width), int(form.height))
            if self.config
            else {},
        )
        ctx.progress(phase="generating", step=0, total=request.steps * request.count, message="Generating")
        started = time.monotonic()
        try:
            result = backend.run(request, ctx)
        finally:
            preview = ctx.snapshot.get("preview")
            if preview and Path(preview).is_relative_to(self.paths.tmp):
                Path(preview).unlink(missing_ok=True)  # the live preview is done with once the job ends
        notes.extend(result.notes)
        gen_id = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
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
                model=model.id,
                family=model.family,
                model_hash=(base_ref.sha256 or "")[:10] or None,
                loras=loras,
                backend=backend.name,
            )
            request_json = asdict(form) | {"seed": generated.seed, "count": 1, "generation_id": gen_id}
            path = write_png(
                folder / f"{gen_id}_{index}.png", generated.image, meta, request_json, generated.png_text
            )
            saved.append({"path": str(path), "seed": generated.seed})
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
