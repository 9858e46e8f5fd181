"""Warm pipelines: loaded bases stay in memory (least recently used evicted beyond a memory budget), and
LoRAs are loaded, switched and unloaded on a cached base without reloading it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.base import PluginError, pipeline_bytes, warm_memory
from plugins.families import family_info

MAX_ADAPTERS = 6  # LoRAs kept loaded per pipeline for instant switching


@dataclass
class Entry:
    key: tuple
    pipe: Any
    family: str
    bytes: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    adapters: OrderedDict[str, str] = field(default_factory=OrderedDict)  # adapter name -> file path
    scheduler_config: dict = field(default_factory=dict)
    share: tuple | None = None  # plugins.base.share_key when another cache may take this pipeline
    device: str = "cpu"  # the GPU it lives on: each GPU has its own budget and is made room on alone


class PipelineCache:
    def __init__(self, budget_bytes: int):
        self.budget = budget_bytes
        self._entries: OrderedDict[tuple, Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = {
            "base_loads": 0,
            "evictions": 0,
            "lora_loads": 0,
            "lora_switches": 0,
            "base_taken": 0,
            "base_handed_over": 0,
        }
        warm_memory.register(self)

    def get(
        self, key: tuple, family: str, load, *, share: tuple | None = None, adopt=None, device: str = "cpu"
    ) -> Entry:
        """The cached pipeline for `key`; else the trainer's kept one for `share` (passed to `adopt`),
        else `load()` — after the trainer let go of what it keeps: never two bases at once."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        pipe = warm_memory.take(share, self) if share is not None else None
        if pipe is not None:
            pipe = adopt(pipe) if adopt else pipe
            counter = "base_taken"  # from the trainer, not from disk
        else:
            warm_memory.make_room(self, device)
            pipe = load()
            counter = "base_loads"
        entry = Entry(
            key,
            pipe,
            family,
            pipeline_bytes(pipe),
            scheduler_config=dict(pipe.scheduler.config),
            share=share,
            device=device,
        )
        with self._lock:
            self.stats[counter] += 1
            self._entries[key] = entry
            while True:  # least recently used first, counting only what shares this entry's device
                here = [e for e in self._entries.values() if e.device == device]
                if len(here) <= 1 or sum(e.bytes for e in here) <= self.budget:
                    break
                self._entries.pop(here[0].key)
                self.stats["evictions"] += 1
                _free(here[0])
        return entry

    def loaded(self) -> list[tuple]:
        with self._lock:
            return list(self._entries)

    def hand_over(self, share: tuple):
        """Give the pipeline for `share` to another cache (the trainer): LoRAs unloaded, the model's own
        sampler back, as a fresh load is. None when it is not here or a generation is using it."""
        with self._lock:
            found = next((e for e in self._entries.values() if e.share == share and e.pipe is not None), None)
            if found is None or not found.lock.acquire(blocking=False):
                return None
            self._entries.pop(found.key)
        try:
            pipe = found.pipe
            if found.adapters:
                pipe.unload_lora_weights()
            import diffusers

            original = getattr(diffusers, found.scheduler_config.get("_class_name", ""), type(pipe.scheduler))
            pipe.scheduler = original.from_config(found.scheduler_config)
            pipe.vae.disable_tiling()
            self.stats["base_handed_over"] += 1
            return pipe
        finally:
            found.pipe = None
            found.lock.release()

    def release(self, device: str | None = None) -> None:
        """Another cache needs the memory of `device` (all of them when None; see plugins.base.WarmMemory)."""
        with self._lock:
            gone = [e for e in self._entries.values() if device is None or e.device == device]
            for entry in gone:
                self._entries.pop(entry.key)
                _free(entry)

    def clear(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                _free(entry)
            self._entries.clear()


def _free(entry: Entry) -> None:
    entry.pipe = None
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass


def adapter_name(path: Path, sha: str | None) -> str:
    """A stable, valid adapter name for a LoRA file (peft names cannot contain dots)."""
    import hashlib

    if not sha:  # path, size and time: a file replaced in place gets a new adapter
        stat = Path(path).stat()
        sha = hashlib.sha256(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    digest = sha
    return f"lora_{digest[:16]}"


def apply_loras(entry: Entry, loras: list, stats: dict) -> list[str]:
    """Make exactly `loras` active with their strengths; load what is missing, keep others for later."""
    pipe = entry.pipe
    names, weights = [], []
    for lora in loras:
        name = adapter_name(lora.path, lora.sha256)
        if name not in entry.adapters:
            _load_checked(pipe, lora, name, entry.family)
            entry.adapters[name] = str(lora.path)
            stats["lora_loads"] += 1
        entry.adapters.move_to_end(name)
        names.append(name)
        weights.append(float(lora.strength))
    while len(entry.adapters) > MAX_ADAPTERS:
        old = next(iter(entry.adapters))
        if old in names:
            break
        pipe.delete_adapters(old)
        entry.adapters.pop(old)
    if names:
        pipe.enable_lora()
        pipe.set_adapters(names, adapter_weights=weights)
        stats["lora_switches"] += 1
    elif entry.adapters:
        pipe.disable_lora()  # the base model's own output, exactly
    return names


def _load_checked(pipe, lora, name: str, family: str) -> None:
    """Load a LoRA and make sure it reached the model. diffusers skips a file whose keys it cannot map
    with only a log warning (ai-toolkit's Chroma files, for one): here that is an error, never a picture
    made quietly without the LoRA."""
    label = family_info(family).label
    try:
        pipe.load_lora_weights(str(lora.path), adapter_name=name)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise PluginError(
            f"The LoRA {Path(lora.path).name} does not fit {label} here: its layers are named or sized "
            f"differently ({type(exc).__name__}). Use it with the model it was made for, or in ComfyUI."
        ) from exc
    loaded = {n for names in pipe.get_list_adapters().values() for n in names}
    if name not in loaded:
        raise PluginError(
            f"The LoRA {Path(lora.path).name} has no layers the built-in backend can map onto {label}, so "
            "it would change nothing. Use it in ComfyUI, or with the model it was made for."
        )
