"""Base models on disk: tiny ones built here, hub ones downloaded into the data folder (so a RunPod volume
keeps them), and the user's own (a diffusers folder or a single-file checkpoint, its family read from
its keys). `resolve()` returns the ModelRef plugins load from.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

from isengard.errors import InputError, NotAvailableError
from isengard.models.catalogue import BaseModel, Catalogue
from isengard.models.preflight import blocker, short_status
from isengard.models.tokens import TokenStore, hub_error_message
from isengard.obs import event
from isengard.paths import Paths, safe_component
from isengard.storage.db import Database
from isengard.storage.files import file_sha256
from plugins.base import FAMILIES, ModelRef
from plugins.families import family_info

COMPLETE = ".isengard-complete.json"
# top-level single files duplicate the diffusers folders in FLUX/SDXL repos: skip them
IGNORE = ["*.ckpt", "*.bin", "*.onnx", "*.onnx_data", "*.msgpack", "*.h5", "*.ot", "*.pb", "*.tflite",
          "/*.safetensors", "*.safetensors.index.json.bak"]  # fmt: skip


class ModelManager:
    def __init__(self, *, paths: Paths, catalogue: Catalogue, db: Database, tokens: TokenStore):
        self.paths = paths
        self.catalogue = catalogue
        self.db = db
        self.tokens = tokens
        self._locks: dict[str, threading.Lock] = {}
        self._hashes: dict[tuple, str] = {}
        self._load_custom()

    def attach(self, runner) -> None:
        """Register the `download` job: fetch (or build) a base model with progress."""

        def run(ctx, params):
            model = self.catalogue.get(params["model"])
            ref = self.resolve(model, progress=ctx.progress)
            return {"model": model.id, "path": str(ref.local_path)}

        runner.register("download", run, uses_gpu=False)

        def run_import(ctx, params):
            def say(**fields):
                ctx.progress(phase="converting", **fields)

            model = self.import_model(
                Path(params["path"]),
                name=params.get("name") or None,
                text_encoder=params.get("text_encoder") or None,
                vae=params.get("vae") or None,
                like=params.get("like") or None,
                progress=say,
            )
            return {"model": model.id, "label": model.label, "family": model.family}

        # on the machine whose data folder keeps the model (never a queue's worker): it writes the catalogue
        runner.register("import_model", run_import, uses_gpu=False)

    # where things are ------------------------------------------------------------------------------------
    def local_dir(self, model: BaseModel) -> Path:
        if model.tiny:  # entries that share a tiny architecture (Z-Image and its Turbo) share one build
            return self.paths.base_models / safe_component("tiny-" + model.source.split(":", 1)[1])
        return self.paths.base_models / safe_component(model.id)

    def is_ready(self, model: BaseModel) -> bool:
        if model.custom:
            return Path(model.source).exists()
        if model.tiny:
            from isengard.tiny.models import is_built

            return is_built(self.local_dir(model))
        return (self.local_dir(model) / COMPLETE).exists()

    def status(self, model: BaseModel) -> str:
        if self.is_ready(model):
            return "ready"
        if model.tiny:
            return "built on first use (a few seconds)"
        if model.custom:
            return "missing: its folder is gone"
        return short_status(self, model)

    def ensure_can_start(self, model: BaseModel) -> None:
        """Refuse, with the reason, a job whose model cannot be had here (see preflight.py)."""
        self.check_access(model)  # a gated model: the sentence with where to get a token
        why = blocker(self, model)
        if why:
            raise NotAvailableError(why)

    def choices(self, *, include_tiny: bool = True) -> list[BaseModel]:
        return [m for m in self.catalogue.all() if include_tiny or not m.tiny]

    # making a model usable -------------------------------------------------------------------------------
    def resolve(self, model: BaseModel, progress=None, *, for_training: bool = False) -> ModelRef:
        """Build, download or find the model; `progress(**fields)` reports what is happening. A training
        also gets the model's training adapter, if it has one."""
        ref = self._resolve(model, progress)
        if for_training and model.training_adapter:
            adapter = self._training_adapter(model, ref.local_path, progress or (lambda **fields: None))
            ref = replace(ref, training_adapter=adapter)
        return ref

    def _training_adapter(self, model: BaseModel, folder: Path, say) -> Path:
        if model.training_adapter == "tiny":
            from isengard.tiny.zimage import TRAINING_ADAPTER

            return folder / TRAINING_ADAPTER
        from huggingface_hub import hf_hub_download

        owner, name, filename = model.training_adapter.split("/", 2)
        say(phase="downloading", message=f"Downloading the training adapter for {model.label}")
        event("model.adapter_download", f"downloading {model.training_adapter}", model=model.id)
        try:
            path = hf_hub_download(
                f"{owner}/{name}",
                filename,
                token=self.tokens.get(),
                local_dir=self.paths.base_models / "adapters" / safe_component(f"{owner}-{name}"),
            )
        except Exception as exc:
            raise NotAvailableError(hub_error_message(exc, f"{owner}/{name}")) from None
        return Path(path)

    def _resolve(self, model: BaseModel, progress=None) -> ModelRef:
        say = progress or (lambda **fields: None)
        lock = self._locks.setdefault(model.id, threading.Lock())
        with lock:
            if model.custom:
                path = Path(model.source)
                if not path.exists():
                    raise NotAvailableError(f"The model folder {path} is gone.")
                return model.ref(path, self._custom_hash(model))
            folder = self.local_dir(model)
            if model.tiny:
                from isengard.tiny.models import build_tiny_base

                if not self.is_ready(model):
                    say(phase="preparing", message=f"Building {model.label} (first use only)")
                    event("model.tiny_build", f"building {model.id}", model=model.id)
                build_tiny_base(model.family, folder, progress=lambda m: say(message=m))
                return model.ref(folder, self._weights_hash(folder, model.family))
            if not self.is_ready(model):
                self.download(model, say)
            info = json.loads((folder / COMPLETE).read_text())
            return model.ref(folder, info.get("revision"))

    def check_access(self, model: BaseModel) -> None:
        if model.tiny or model.custom or self.is_ready(model):
            return
        token = self.tokens.get()
        if model.gated and not token:
            raise NotAvailableError(
                f"{model.label} is gated: it needs a Hugging Face token.",
                hint=f"Accept the licence at https://huggingface.co/{model.source}, create a read token at "
                "https://huggingface.co/settings/tokens and paste it in Settings (or set HF_TOKEN).",
            )

    def download(self, model: BaseModel, say) -> Path:
        from huggingface_hub import HfApi, snapshot_download

        self.check_access(model)
        token = self.tokens.get()
        folder = self.local_dir(model)
        event("model.download_started", f"downloading {model.source}", model=model.id)
        try:
            info = HfApi().model_info(model.source, token=token, files_metadata=True)
        except Exception as exc:
            raise NotAvailableError(hub_error_message(exc, model.source)) from None
        total = sum(
            s.size or 0
            for s in info.siblings
            if "/" in s.rfilename and s.rfilename.endswith((".safetensors", ".json", ".txt", ".model"))
        )
        done = threading.Event()
        started = time.monotonic()

        def watch() -> None:
            while not done.wait(1.0):
                have = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                rate = have / max(1e-6, time.monotonic() - started)
                say(
                    phase="downloading",
                    step=min(have, total),
                    total=total or None,
                    eta_s=(total - have) / rate if rate > 0 and total > have else None,
                    message=f"Downloading {model.label} (first use only): {have / 1e9:.1f} of {total / 1e9:.1f} GB",
                )

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            snapshot_download(
                model.source, revision=info.sha, local_dir=str(folder), token=token, ignore_patterns=IGNORE
            )
        except Exception as exc:
            raise NotAvailableError(
                f"Downloading {model.label} failed: {hub_error_message(exc, model.source)}"
            ) from None
        finally:
            done.set()
        (folder / COMPLETE).write_text(
            json.dumps({"repo": model.source, "revision": info.sha, "finished": time.time()})
        )
        event("model.downloaded", f"{model.source} downloaded", model=model.id, revision=info.sha)
        return folder

    # the user's own bases --------------------------------------------------------------------------------
    def import_model(
        self,
        source: Path,
        *,
        name: str | None = None,
        family: str | None = None,
        config: str | None = None,
        text_encoder: Path | None = None,
        vae: Path | None = None,
        like: str | None = None,
        progress=None,
    ) -> BaseModel:
        """Register a diffusers folder, or convert a file into one: an SDXL/SD 1.5 single-file checkpoint,
        or ComfyUI's split files (a Z-Image, FLUX.2 or Qwen-Image diffusion model, with its text encoder
        and VAE when given)."""
        source = Path(source).expanduser().resolve()
        if not source.exists():
            raise InputError(f"{source} does not exist.")
        label = (name or source.stem).strip()[:60]
        model_id = "custom-" + safe_component(label.lower().replace(" ", "-"))
        if model_id in self.catalogue.ids():
            raise InputError(f"A model called {label!r} is already registered.")
        based_on = None
        if source.is_dir():
            index = source / "model_index.json"
            if not index.exists():
                raise InputError(f"{source} is not a diffusers model folder (it has no model_index.json).")
            detected = {
                "FluxPipeline": "flux",
                "StableDiffusionXLPipeline": "sdxl",
                "StableDiffusionPipeline": "sd15",
            }.get(json.loads(index.read_text()).get("_class_name"))
            family = family or detected
            target, sha = source, None
        elif self._split_family(source):
            family, target, sha, based_on = self._convert_split_files(
                source, model_id, text_encoder, vae, like, progress
            )
        else:
            if text_encoder or vae:
                raise InputError(
                    "A text encoder or VAE file goes with a Z-Image, FLUX.2 or Qwen-Image diffusion model."
                )
            family, target, sha = self._convert_single_file(source, model_id, family, config, progress)
        if family not in FAMILIES:
            raise InputError("Could not tell which model family this is; pass --family flux, sdxl or sd15.")
        self.db.execute(
            "INSERT INTO base_models(id, label, family, source, original, sha256, created_at, based_on) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (model_id, label, family, str(target), str(source), sha, time.time(), based_on),
        )
        model = self._custom_model(model_id, label, family, target, f"imported from {source.name}", based_on)
        self.catalogue.add(model)
        event("model.imported", f"{label} imported as {family}", model=model.id, source=str(source))
        return model

    def _split_family(self, source: Path) -> str | None:
        """The newer family of a ComfyUI diffusion model file, from its header alone; else None."""
        from isengard.models.comfy_files import family_of_diffusion_model
        from isengard.models.single_file import read_shapes

        return family_of_diffusion_model(read_shapes(source)) if source.suffix == ".safetensors" else None

    def _convert_split_files(self, source, model_id, text_encoder, vae, like, progress):
        from isengard.models.split_import import SplitFiles, import_split

        files = SplitFiles(
            source, *(Path(p).expanduser().resolve() if p else None for p in (text_encoder, vae))
        )
        for path in (files.text_encoder, files.vae):
            if path is not None and not path.is_file():
                raise InputError(f"{path} does not exist.")
        say = (lambda message: progress(message=message)) if progress else (lambda message: None)
        target = self.paths.base_models / model_id
        family, reference = import_split(self, files, target, like=like, say=say)
        return family, target, file_sha256(source), reference.id

    def _convert_single_file(
        self, source: Path, model_id: str, family: str | None, config: str | None, progress
    ) -> tuple[str, Path, str]:
        from isengard.models import single_file

        family, shapes = single_file.checkpoint_family(source, family)
        target = self.paths.base_models / model_id
        single_file.convert(source, target, family=family, shapes=shapes, config=config, progress=progress)
        return family, target, file_sha256(source)

    def removal_plan(self, model_id: str) -> tuple[BaseModel, list[Path]]:
        """What `remove` deletes: the registration, and the converted folder if Isengard made it."""
        model = self.catalogue.get(model_id)
        if not model.custom:
            raise InputError(
                f"{model.label} is one of Isengard's own models; only imported models can be removed."
            )
        row = self.db.one("SELECT source, original FROM base_models WHERE id=?", (model.id,))
        folder = Path(row["source"]) if row else Path(model.source)
        owned = folder.parent == self.paths.base_models and folder.exists()
        return model, [folder] if owned else []

    def remove(self, model_id: str) -> list[Path]:
        """Forget an imported base; delete the folder Isengard converted (never a folder the user pointed at)."""
        model, folders = self.removal_plan(model_id)
        for folder in folders:
            trash = folder.with_name(folder.name + ".removing")
            folder.rename(trash)  # one atomic step: a crash leaves no half-deleted model under its name
            shutil.rmtree(trash, ignore_errors=True)
        self.db.execute("DELETE FROM base_models WHERE id=?", (model.id,))
        self.catalogue.remove(model.id)
        event("model.removed", f"{model.label} removed", model=model.id, deleted=[str(f) for f in folders])
        return folders

    def refresh_custom(self) -> None:
        """Models imported since this process started (the command line, another studio) join the catalogue;
        removed ones leave it."""
        rows = {row["id"] for row in self.db.query("SELECT id FROM base_models")}
        for model in [m for m in self.catalogue.all() if m.custom and m.id not in rows]:
            self.catalogue.remove(model.id)
        self._load_custom(only_new=True)

    def _load_custom(self, *, only_new: bool = False) -> None:
        for row in self.db.query("SELECT * FROM base_models ORDER BY created_at"):
            if only_new and row["id"] in self.catalogue.ids():
                continue
            self.catalogue.add(
                self._custom_model(
                    row["id"],
                    row["label"],
                    row["family"],
                    row["source"],
                    f"({row['original']})",
                    row["based_on"],
                )
            )

    def _custom_model(self, model_id, label, family, source, origin: str, based_on: str | None) -> BaseModel:
        """A person's own model; one made from a catalogue model's architecture (ComfyUI's files) keeps that
        model's resolution, generation defaults and training adapter, and names its licence."""
        base = self.catalogue.get(based_on) if based_on and based_on in self.catalogue.ids() else None
        if base is None:
            return BaseModel(
                id=model_id,
                label=label,
                family=family,
                source=str(source),
                resolution=1024 if family != "sd15" else 512,
                custom=True,
                description=f"Your own model, {origin}.",
            )
        return BaseModel(
            id=model_id,
            label=label,
            family=family,
            source=str(source),
            resolution=base.resolution,
            custom=True,
            description=f"Your own model, {origin}, made like {base.label}.",
            defaults=dict(base.defaults),
            licence=f"{base.licence} (as {base.label}, the model it was made from)" if base.licence else "",
            training_adapter=base.training_adapter,
            parameters_b=base.parameters_b,
        )

    def _custom_hash(self, model: BaseModel) -> str | None:
        row = self.db.one("SELECT sha256 FROM base_models WHERE id=?", (model.id,))
        return row["sha256"] if row else None

    def _weights_hash(self, folder: Path, family: str) -> str:
        """sha256 of the denoiser's weights, computed once per file version (these files can be gigabytes)."""
        sub = family_info(family).model_attr
        weights = sorted((folder / sub).glob("*.safetensors"))
        if not weights:
            return ""
        stat = weights[0].stat()
        key = (str(weights[0]), stat.st_size, stat.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(weights[0])
        return self._hashes[key]
