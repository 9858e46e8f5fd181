"""What the captioning adapters that run a model share (a helper at the top of `plugins/`: adapters never
import each other): where the weights come from (a local folder, or a Hugging Face
repo downloaded once into the data folder), when they are available, loading them once onto the GPU or
the CPU, and saying "offline" in one sentence when they cannot be downloaded."""

from __future__ import annotations

import threading
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from plugins.base import Availability, PluginError, PluginSettings, RunContext, missing_packages
from plugins.captioning.interface import Captioner


class ModelCaptioner(Captioner):
    default_source: ClassVar[str]
    setting: ClassVar[str]  # the PluginSettings.extra key that names other weights
    download_size: ClassVar[str]  # "~1 GB"
    model_name: ClassVar[str]  # "BLIP", in sentences

    def __init__(self, settings: PluginSettings, source: str | None = None):
        self.settings = settings
        self.source = source or settings.extra.get(self.setting) or self.default_source
        self._model = None
        self._processor = None
        self._lock = threading.Lock()

    @property
    def _local(self) -> bool:
        return Path(self.source).is_dir()

    def _cache(self) -> Path:
        return Path(self.settings.data_dir) / "models" / "captioners"

    def weights_present(self) -> bool:
        """Local weights (a folder, or a download already done)."""
        if self._local:
            return True
        try:
            from huggingface_hub import try_to_load_from_cache

            return isinstance(
                try_to_load_from_cache(self.source, "config.json", cache_dir=str(self._cache())), str
            )
        except Exception:
            return False

    def availability(self) -> Availability:
        if self.settings.mode == "fast-test" and not self._local:
            return Availability.no("fast-test mode uses no model weights; use the template captioner")
        if missing_packages("transformers"):
            return Availability.no("the transformers package is not installed")
        if self.weights_present():
            return Availability.yes(f"local model {self.source}")
        return Availability.yes(f"downloads {self.source} ({self.download_size}) on first use")

    def offline_sentence(self) -> str:
        return (
            f"The {self.model_name} captioner could not be downloaded: this computer seems to be offline (or the "
            "Hugging Face hub is unreachable). The simple template captioner needs no download."
        )

    @abstractmethod
    def _from_pretrained(self, source: str, dtype, kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """The model and its processor (each captioner's own classes)."""

    def _load(self, ctx: RunContext):
        with self._lock:
            if self._model is None:
                import torch

                where = (
                    ""
                    if self.weights_present()
                    else f" (about {self.download_size.strip('~')} to download on first use)"
                )
                ctx.progress(
                    phase="preparing", message=f"Loading the {self.model_name} captioning model{where}"
                )
                ctx.log("caption.model_load", f"loading {self.source}", source=self.source)
                kwargs = (
                    {} if self._local else {"cache_dir": str(self._cache()), "token": self.settings.hf_token}
                )
                device = "cuda" if torch.cuda.is_available() else "cpu"
                dtype = torch.float16 if device == "cuda" else torch.float32
                try:
                    model, processor = self._from_pretrained(self.source, dtype, kwargs)
                except OSError as exc:  # transformers' answer to "not cached and cannot download"
                    ctx.log("caption.model_unavailable", f"{self.source}: {exc}", source=self.source)
                    if self._local:
                        raise PluginError(
                            f"The captioning model in {self.source} could not be read: {exc}"
                        ) from exc
                    raise PluginError(self.offline_sentence(), code="offline") from exc
                self._processor, self._model = processor, model.to(device).eval()
            return self._model, self._processor
