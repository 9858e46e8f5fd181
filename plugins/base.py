"""What every plugin shares: identity, availability, the run context it reports through, the registry."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from plugins.families import FAMILIES, FAMILY_LABELS

__all__ = ["FAMILIES", "FAMILY_LABELS"]  # re-exported: every plugin reads them here

PLUGIN_KINDS = ("training", "image", "video", "captioning", "evaluation")


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""

    @classmethod
    def yes(cls, reason: str = "ready") -> Availability:
        return cls(True, reason)

    @classmethod
    def no(cls, reason: str) -> Availability:
        return cls(False, reason)


@dataclass(frozen=True)
class PluginSettings:
    """The part of the app settings a plugin may read (plugins never import `isengard.settings`)."""

    mode: str = "fast-test"
    data_dir: Path = Path("data")
    tmp_dir: Path = Path("tmp")
    subprocess_log_dir: Path = Path("logs/worker/latest/subprocess")
    comfyui_url: str | None = None
    comfyui_lora_dir: Path | None = None
    ai_toolkit_dir: Path | None = None
    ai_toolkit_python: Path | None = None
    hf_token: str | None = field(default=None, repr=False)
    workflows_dir: Path | None = None  # the ComfyUI templates that ship with Isengard
    gpu_name: str | None = None  # the CUDA GPU the studio found (without importing torch), None on CPU
    gpu_vram_gb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class PluginError(Exception):
    """A failure a person can act on, raised by a plugin; `code` lets the core add advice (e.g. "oom")."""

    def __init__(self, message: str, *, code: str = "error", details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.details = details or {}


class Cancelled(Exception):
    """Raised inside a plugin when the user cancelled; the job ends as `cancelled`, keeping what was saved."""


@runtime_checkable
class RunContext(Protocol):
    """How a running plugin reports progress and learns it was cancelled (implemented by the job runner)."""

    job_id: str
    correlation_id: str

    def progress(self, **fields: Any) -> None:
        """step, total, loss, message, eta_s, it_s, images (paths), preview (path), checkpoint (path)…"""

    def is_cancelled(self) -> bool: ...

    def check_cancelled(self) -> None:
        """Raise `Cancelled` if the user asked to stop."""

    def log(self, event: str, message: str, **context: Any) -> None: ...


class SimpleRunContext:
    """A RunContext for direct calls (tests, scripts): records progress in memory, cancels on demand."""

    def __init__(self, job_id: str = "direct", correlation_id: str = "direct"):
        self.job_id = job_id
        self.correlation_id = correlation_id
        self.events: list[dict[str, Any]] = []
        self.logs: list[tuple[str, str, dict]] = []
        self._cancel = threading.Event()

    def progress(self, **fields: Any) -> None:
        self.events.append(fields)

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("cancelled")

    def log(self, event: str, message: str, **context: Any) -> None:
        self.logs.append((event, message, context))


class Plugin(ABC):
    """A plugin: a name, a version, and whether it can run here."""

    kind: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[str]
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_weights: ClassVar[bool] = True  # False for the fast-test mocks: no base model is fetched for them

    @abstractmethod
    def availability(self) -> Availability:
        """Can this plugin run now? Never raises; the reason is shown to the user."""


def missing_packages(*names: str) -> list[str]:
    """Which of these packages are not installed — found without importing them (importing diffusers or
    transformers costs seconds, and availability is asked for while the studio starts)."""
    import importlib.util

    return [name for name in names if importlib.util.find_spec(name) is None]


class DuplicatePluginError(ValueError):
    pass


class PluginRegistry:
    """Explicit registration; a second plugin with the same kind and name is an error."""

    def __init__(self) -> None:
        self._plugins: dict[tuple[str, str], Plugin] = {}

    def register(self, plugin: Plugin) -> Plugin:
        kind = getattr(plugin, "kind", None)
        if kind not in PLUGIN_KINDS:
            raise ValueError(f"{type(plugin).__name__} has unknown plugin kind {kind!r}")
        for attr in ("name", "version"):
            if not isinstance(getattr(plugin, attr, None), str) or not getattr(plugin, attr):
                raise ValueError(f"{type(plugin).__name__} must declare a non-empty {attr}")
        key = (kind, plugin.name)
        if key in self._plugins:
            raise DuplicatePluginError(f"a {kind} plugin named {plugin.name!r} is already registered")
        self._plugins[key] = plugin
        return plugin

    def get(self, kind: str, name: str) -> Plugin:
        try:
            return self._plugins[(kind, name)]
        except KeyError:
            known = ", ".join(self.names(kind)) or "none"
            raise KeyError(f"no {kind} plugin named {name!r} (known: {known})") from None

    def names(self, kind: str) -> list[str]:
        return [name for (k, name) in self._plugins if k == kind]

    def of_kind(self, kind: str) -> list[Plugin]:
        return [p for (k, _), p in self._plugins.items() if k == kind]

    def first_available(self, kind: str) -> Plugin | None:
        """The first registered plugin of `kind` that can run here (e.g. the face model for likeness)."""
        return next((p for p in self.of_kind(kind) if p.availability().ok), None)

    def all(self) -> Iterable[Plugin]:
        return list(self._plugins.values())

    def describe(self) -> list[dict[str, Any]]:
        rows = []
        for plugin in self._plugins.values():
            try:
                avail = plugin.availability()
            except Exception as exc:  # a broken plugin is shown as unavailable, never crashes the app
                avail = Availability.no(f"availability check failed: {exc}")
            rows.append(
                {
                    "kind": plugin.kind,
                    "name": plugin.name,
                    "version": plugin.version,
                    "label": plugin.label or plugin.name,
                    "available": avail.ok,
                    "reason": avail.reason,
                }
            )
        return rows


@dataclass(frozen=True)
class ModelRef:
    """A base model as plugins see it: which family, and where its weights are (or come from)."""

    id: str
    family: str
    source: str  # a Hugging Face repo id, a local diffusers folder, or a single-file checkpoint
    local_path: Path | None = None  # set once the weights are on disk
    single_file: bool = False
    label: str = ""
    sha256: str | None = None
    training_adapter: Path | None = None  # a LoRA applied while training only (Z-Image Turbo's)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}; expected one of {FAMILIES}")


def pipeline_bytes(pipe) -> int:
    """Memory a loaded diffusers pipeline's weights take (for the warm caches' budgets)."""
    total = 0
    for component in pipe.components.values():
        if hasattr(component, "parameters"):
            total += sum(p.numel() * p.element_size() for p in component.parameters())
    return total


def subprocess_gpu(device: str | None, env: dict[str, str]) -> str | None:
    """The CUDA_VISIBLE_DEVICES a subprocess is given so that it sees only the GPU `device` names in this
    process ("cuda:1" is the second GPU this process sees, which may be "3" on the machine); None when
    `device` names no particular GPU."""
    if not device or not device.startswith("cuda:"):
        return None
    index = int(device.split(":", 1)[1])
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return str(index)
    ids = [part.strip() for part in visible.split(",")]
    return ids[index] if index < len(ids) else None


def direct_placement(device: str | None) -> str | None:
    """The `device_map` that loads a pipeline's weights straight onto `device` (no copy through host memory
    on a GPU): diffusers places whole pipelines only on its default GPU or the CPU; None elsewhere (the
    pipeline is then moved after loading)."""
    if device in ("cpu", "cuda", "cuda:0"):
        return "cpu" if device == "cpu" else "cuda"
    return None


def loaded_in_place(pipe):
    """A pipeline loaded with a device map, freed of it so it can be moved later (warm hand-overs, the
    text encoders' turn): the weights stay where they were loaded."""
    if getattr(pipe, "hf_device_map", None) is not None:
        pipe.reset_device_map()
    return pipe


def free_cuda() -> None:
    """After an out-of-memory: what the failed attempt held is collected and the GPU's cache emptied, so a
    lighter retry starts from free memory (nothing to do without torch or a GPU)."""
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def bf16_on(device: str) -> bool:
    """Whether the GPU `device` names ("cuda:1") computes in bfloat16 natively (Ampere and newer):
    torch.cuda.is_bf16_supported() only asks about the thread's current GPU."""
    import torch

    return torch.cuda.get_device_capability(device)[0] >= 8


def share_key(path, dtype, device: str) -> tuple[str, str, str]:
    """What makes two loaded pipelines interchangeable: the same files, dtype and device."""
    return (str(Path(path).resolve()), str(dtype), str(device))


class WarmMemory:
    """The warm caches of one process (the image backend's pipelines, the trainer's kept base). A plugin
    about to load a base first asks `take(key)`: another cache that holds the same pipeline hands it over
    (a move: one copy in memory, not two). Otherwise `make_room(owner)` asks the others to let go of what
    they keep, so a training and a generation never hold two large models at once."""

    def __init__(self) -> None:
        self._caches: list[Any] = []
        self._lock = threading.Lock()

    def register(self, cache) -> None:
        with self._lock:
            if cache not in self._caches:
                self._caches.append(cache)

    def take(self, key: tuple, owner) -> Any:
        """The pipeline for `key` from another cache (now the caller's alone), or None."""
        with self._lock:
            others = [c for c in self._caches if c is not owner]
        for cache in others:
            pipe = cache.hand_over(key)
            if pipe is not None:
                return pipe
        return None

    def make_room(self, owner, device: str | None = None) -> None:
        """Ask the other caches to let go of what they keep on `device` (every device when None): a job on
        one GPU never empties another GPU's warm models."""
        with self._lock:
            others = [c for c in self._caches if c is not owner]
        for cache in others:
            cache.release(device)


warm_memory = WarmMemory()
