"""Building the application: settings → paths → logging → storage → plugins → job runner → services.

`bootstrap()` is the one place that wires everything; `python app.py`, the CLI and the tests call it.
Nothing here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isengard.characters.service import CharacterService
from isengard.device import DeviceInfo, detect_device
from isengard.evaluation.evaluate_job import EvaluationService
from isengard.generation.gallery import PictureGallery
from isengard.generation.options import load_generation_config
from isengard.generation.service import GenerationService
from isengard.hub.importer import HubImporter
from isengard.hub.publish import HubPublisher
from isengard.jobs import JobRunner
from isengard.models.catalogue import Catalogue, load_catalogue
from isengard.models.manager import ModelManager
from isengard.models.tokens import TokenStore
from isengard.obs import event, setup_logging
from isengard.obs.redact import register_secrets
from isengard.paths import Paths
from isengard.settings import PROJECT_ROOT, Settings
from isengard.storage.backup import DailyBackups, make_backup
from isengard.storage.db import Database
from isengard.storage.recover import refuse_empty_database_beside_data
from isengard.training.library import LoraLibrary
from isengard.training.service import TrainingService
from isengard.training.store import LoraStore
from plugins.base import PluginRegistry, PluginSettings


@dataclass
class AppContext:
    settings: Settings
    paths: Paths
    db: Database
    registry: PluginRegistry
    runner: JobRunner
    catalogue: Catalogue
    generation: GenerationService
    characters: CharacterService
    models: ModelManager
    tokens: TokenStore
    loras: LoraStore
    training: TrainingService
    evaluation: EvaluationService
    extras: dict[str, Any] = field(default_factory=dict)
    backups: DailyBackups | None = None
    library: LoraLibrary | None = None  # the LoRA library the studio shows (names, notes, model cards)
    gallery: PictureGallery | None = None  # every picture made, with favourites
    hub: HubPublisher | None = None  # publishing LoRAs to the Hugging Face Hub
    hub_import: HubImporter | None = None  # bringing LoRAs in from it
    workers: list = field(default_factory=list)  # the studio's own GPU workers (REDIS_URL: one per GPU)

    @property
    def device(self) -> DeviceInfo:
        return detect_device()

    def close(self) -> None:
        if self.backups is not None:
            self.backups.stop()
        self.runner.shutdown(wait=True)
        stop_workers(self.workers)
        self.db.close()


def plugin_settings(settings: Settings, paths: Paths) -> PluginSettings:
    return PluginSettings(
        mode=settings.mode,
        data_dir=paths.data,
        tmp_dir=paths.tmp,
        subprocess_log_dir=paths.subprocess_logs,
        comfyui_url=settings.comfyui_url,
        comfyui_lora_dir=settings.comfyui_lora_dir,
        ai_toolkit_dir=settings.ai_toolkit_dir,
        ai_toolkit_python=settings.ai_toolkit_python,
        hf_token=settings.hf_token,
        workflows_dir=PROJECT_ROOT / "workflows",
        gpu_name=detect_device().name if detect_device().kind == "cuda" else None,
        gpu_vram_gb=detect_device().vram_gb if detect_device().kind == "cuda" else None,
        extra={
            key: value
            for key, value in (
                ("caption_model", settings.caption_model),
                ("florence_model", settings.florence_model),
            )
            if value
        },
    )


def default_image_backend(settings: Settings) -> str:
    return "mock" if settings.fast_test else "diffusers"


def default_base_model(settings: Settings) -> str:
    """On a GPU, the recommended model for its memory (licence-clean first); fast-test draws placeholders at a
    real model's size; production on a CPU uses a tiny model."""
    device = detect_device()
    if device.kind == "cuda":
        from isengard.models.catalogue import load_catalogue
        from isengard.models.recommend import recommend_base
        from isengard.training.presets import load_presets, training_needs

        return recommend_base(load_catalogue(), device.vram_gb, training_needs(load_presets()))[0].id
    if settings.fast_test:
        return "flux-dev"
    return "tiny-flux"


def start_own_workers(ctx: AppContext) -> None:
    """With REDIS_URL, the studio's own GPUs serve the queue as workers like any other (one process per
    GPU, up to WORKER_CONCURRENCY; one on the CPU when there is no GPU; none with WORKER_CONCURRENCY=0)."""
    from isengard import device
    from isengard.jobs.worker_main import launch

    settings = ctx.settings
    if not settings.redis_url or settings.worker_concurrency == 0:
        return
    gpus = [g.visible_id for g in device.list_gpus()][: settings.worker_concurrency]
    ctx.workers = launch(gpus or None, name="studio")
    event("queue.own_workers", f"{len(ctx.workers)} worker(s) of the studio serve the queue", gpus=gpus)


def stop_workers(children: list) -> None:
    import signal as signals

    for child in children:
        if child.poll() is None:
            child.send_signal(signals.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except Exception:
            child.kill()


def queue_placement(settings: Settings, paths: Paths):
    """With REDIS_URL, GPU work goes through Redis to GPU workers (isengard/jobs/redis_queue.py)."""
    if not settings.redis_url:
        return None
    from isengard.jobs import wire
    from isengard.jobs.redis_queue import QueuePlacement
    from isengard.jobs.worker_main import studio_id

    token = wire.load_token(settings.worker_token, paths.data, create=True)
    roots = {"data": str(paths.data.resolve()), "tmp": str(paths.tmp.resolve())}
    placement = QueuePlacement(settings.redis_url, token, studio_id(paths.data, create=True), roots)
    try:
        placement.publish()  # workers may start now; if Redis is away, the first job publishes it
    except Exception as exc:
        event("queue.unreachable", f"Redis cannot be reached yet: {exc}", level="WARNING")
    return placement


def bootstrap(
    settings: Settings | None = None,
    *,
    rotate_logs: bool = False,
    console: bool = True,
    console_level: str | None = None,
    start_runner: bool = True,
    backups: bool = False,
    allow_empty_database: bool = False,
) -> AppContext:
    """`backups`: the studio keeps rotating database backups (one now, one a day).
    `allow_empty_database`: only `recover` may open an empty database next to existing data."""
    settings = settings or Settings.from_env()
    paths = Paths(settings.data_dir, settings.log_dir, settings.tmp_dir)
    paths.ensure()
    setup_logging(
        paths.logs, settings.log_level, rotate=rotate_logs, console=console, console_level=console_level
    )
    register_secrets(settings.auth[1] if settings.auth else None, settings.hf_token)
    if not allow_empty_database:
        refuse_empty_database_beside_data(paths)
    db = Database(paths.db)
    registry = PluginRegistry()
    from plugins import register_builtin_plugins

    register_builtin_plugins(registry, plugin_settings(settings, paths))
    placement = queue_placement(settings, paths)
    runner = JobRunner(
        db,
        gpu_slots=max(1, settings.worker_concurrency),
        lock_dir=paths.locks,
        placement=placement,
        max_workers=32 if placement else 4,  # through a queue, a job's thread only follows its worker
    )
    catalogue = Catalogue(load_catalogue())
    tokens = TokenStore(paths.secrets, settings.hf_token)
    models = ModelManager(paths=paths, catalogue=catalogue, db=db, tokens=tokens)
    models.attach(runner)
    characters = CharacterService(
        db=db, paths=paths, runner=runner, registry=registry, max_upload_mb=settings.max_upload_mb
    )
    loras = LoraStore(db, paths)
    generation = GenerationService(
        db=db,
        paths=paths,
        registry=registry,
        runner=runner,
        catalogue=catalogue,
        default_backend=default_image_backend(settings),
        default_base=default_base_model(settings),
        resolve_base=lambda model, job: models.resolve(model, progress=job.progress),
        characters=characters,
        loras=loras,
        config=load_generation_config(),
        vram_gb=lambda: detect_device().vram_gb,
    )
    training = TrainingService(
        paths=paths,
        registry=registry,
        runner=runner,
        catalogue=catalogue,
        characters=characters,
        models=models,
        store=loras,
        default_backend="mock" if settings.fast_test else "diffusers",
        vram_gb=lambda: detect_device().vram_gb,
    )
    evaluation = EvaluationService(
        paths=paths,
        registry=registry,
        runner=runner,
        characters=characters,
        loras=loras,
        generation=generation,
    )
    ctx = AppContext(
        settings,
        paths,
        db,
        registry,
        runner,
        catalogue,
        generation,
        characters,
        models,
        tokens,
        loras,
        training,
        evaluation,
    )
    ctx.library = LoraLibrary(loras, runner, catalogue, training)
    ctx.hub = HubPublisher(
        runner=runner, library=ctx.library, store=loras, tokens=tokens, endpoint=settings.hub_endpoint
    )
    ctx.hub_import = HubImporter(
        store=loras, tokens=tokens, endpoint=settings.hub_endpoint, tmp_dir=paths.tmp
    )
    ctx.gallery = PictureGallery(db, paths, generation)
    if start_runner:
        runner.start()
    if backups:
        make_backup(db, paths.backups, reason="start")
        ctx.backups = DailyBackups(db, paths.backups).start()
    event(
        "app.bootstrapped",
        f"Isengard ready in {settings.mode} mode",
        mode=settings.mode,
        data_dir=str(paths.data),
        plugins=[f"{p.kind}/{p.name}" for p in registry.all()],
    )
    return ctx
