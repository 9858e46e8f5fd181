"""The warm path: what one training loaded stays in memory for the next one in the same studio.

* The base pipeline, per (model files, dtype, device): checked out by a job (a second job at the same
  time loads its own), given back with its LoRA adapter removed, least recently used evicted beyond a
  memory budget. A 4-bit (QLoRA) base is never kept: preparing it for training changes it.
* The prepared photos and their latents, per (base, resolution, buckets, seed, the exact photos, crops
  and captions): a changed photo, crop or caption is a different key, so it is prepared again.
* Text embeddings per (base, prompt), so a caption edit re-encodes only that caption.
`stats` counts every load and reuse (the tests and the benchmark read them).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.base import pipeline_bytes, share_key, warm_memory

MAX_PREPARED = 8  # photo sets kept (latents are small next to a base)
MAX_TEXTS = 4096  # prompt embeddings kept per base


def dataset_fingerprint(dataset) -> str:
    """Changes when any photo's file, crop choice or caption changes (or a photo is added or removed)."""
    digest = hashlib.sha256()
    for item in dataset:
        path = Path(item.image)
        try:
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:
            size, mtime = -1, -1
        digest.update(f"{path.resolve()}|{size}|{mtime}|{item.caption}\n".encode())
    return digest.hexdigest()


@dataclass
class Prepared:
    items: list  # data.Prepared without pixels
    latents: list


@dataclass
class _Base:
    loaded: Any
    bytes: int
    texts: OrderedDict[str, Any] = field(default_factory=OrderedDict)


class WarmCache:
    def __init__(self, budget_bytes: int):
        self.budget = budget_bytes
        self._bases: OrderedDict[tuple, _Base] = OrderedDict()
        self._prepared: OrderedDict[tuple, Prepared] = OrderedDict()
        self._texts: dict[tuple, OrderedDict[str, Any]] = {}
        self._lock = threading.Lock()
        warm_memory.register(self)
        self.stats = {
            "base_loads": 0,
            "base_reuses": 0,
            "base_evictions": 0,
            "base_taken": 0,  # from the image backend, not from disk
            "base_handed_over": 0,
            "latent_encodes": 0,
            "latent_reuses": 0,
            "text_encodes": 0,
            "text_reuses": 0,
        }

    # the base ----------------------------------------------------------------------------------------
    def checkout(self, key: tuple):
        """The kept base for `key`, now this job's alone, or None."""
        with self._lock:
            base = self._bases.pop(key, None)
            if base is not None:
                self.stats["base_reuses"] += 1
            return base.loaded if base else None

    def give_back(self, key: tuple, loaded) -> None:
        """Keep a base after its job: the adapter removed, frozen, in eval mode, as a fresh load is."""
        reset_model(loaded.model)
        entry = _Base(loaded, pipeline_bytes(loaded.pipe))
        with self._lock:
            if key in self._bases:  # another job gave back the same base meanwhile: keep one
                return
            self._bases[key] = entry
            while len(self._bases) > 1 and sum(b.bytes for b in self._bases.values()) > self.budget:
                old_key, _ = self._bases.popitem(last=False)
                self.stats["base_evictions"] += 1
                self._texts.pop(old_key, None)
            if entry.bytes > self.budget:  # bigger than the budget on its own: do not keep it
                self._bases.pop(key, None)
                self.stats["base_evictions"] += 1

    def hand_over(self, share: tuple):
        """Give a kept base's pipeline to another cache (the image backend), or None. Keys end with
        (dtype, device) after the files' path, as plugins.base.share_key makes them."""
        with self._lock:
            for key in list(self._bases):
                if share_key(key[0], key[2], key[3]) == share:
                    base = self._bases.pop(key)
                    self._texts.pop(key, None)
                    self.stats["base_handed_over"] += 1
                    return base.loaded.pipe
        return None

    def loaded_bases(self) -> list[tuple]:
        with self._lock:
            return list(self._bases)

    def release(self, device: str | None = None) -> None:
        """Another cache needs the memory of `device` (all when None): let go of the bases kept there
        (photos and prompts stay: small). Keys end with the device, as share_key's do."""
        with self._lock:
            gone = [key for key in self._bases if device is None or key[3] == device]
            self.stats["base_evictions"] += len(gone)
            for key in gone:
                self._texts.pop(key, None)
                del self._bases[key]

    def clear(self) -> None:
        with self._lock:
            self._bases.clear()
            self._prepared.clear()
            self._texts.clear()

    # prepared photos and prompts ---------------------------------------------------------------------
    def prepared(self, key: tuple) -> Prepared | None:
        with self._lock:
            found = self._prepared.get(key)
            if found is not None:
                self._prepared.move_to_end(key)
                self.stats["latent_reuses"] += len(found.latents)
            return found

    def keep_prepared(self, key: tuple, items: list, latents: list) -> None:
        with self._lock:
            self.stats["latent_encodes"] += len(latents)
            self._prepared[key] = Prepared(items, latents)
            while len(self._prepared) > MAX_PREPARED:
                self._prepared.popitem(last=False)

    def texts(self, base_key: tuple, prompts: list[str], encode) -> dict[str, Any]:
        """Embeddings of `prompts`, encoding (with `encode(missing)`) only those not kept yet."""
        with self._lock:
            kept = self._texts.setdefault(base_key, OrderedDict())
            missing = [p for p in dict.fromkeys(prompts) if p not in kept]
            self.stats["text_reuses"] += len(set(prompts)) - len(missing)
        fresh = dict(zip(missing, encode(missing), strict=True)) if missing else {}
        with self._lock:
            kept = self._texts.setdefault(base_key, OrderedDict())
            kept.update(fresh)
            self.stats["text_encodes"] += len(fresh)
            out = {p: kept[p] if p in kept else fresh[p] for p in prompts}
            while len(kept) > MAX_TEXTS:
                kept.popitem(last=False)
        return out


def reset_model(model) -> None:
    """Back to the base as loaded: every LoRA adapter removed, nothing trainable, no checkpointing."""
    config = getattr(model, "peft_config", None)
    if config:
        model.delete_adapters(list(config))
    model.requires_grad_(False)
    if getattr(model, "is_gradient_checkpointing", False):
        model.disable_gradient_checkpointing()
    model.eval()
