"""BLIP captioner (transformers): describes each photo, then puts the trigger word where the subject is.

"a woman sitting on a bench" → "alcszx woman sitting on a bench". Weights come from the Hugging Face hub
in production (`Salesforce/blip-image-captioning-base`, ~1 GB) or from a local folder.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from plugins.base import Availability, PluginError, PluginSettings, RunContext, missing_packages
from plugins.captioning.interface import Captioner, CaptionRequest, CaptionResult

DEFAULT_SOURCE = "Salesforce/blip-image-captioning-base"
OFFLINE = (
    "The BLIP captioner could not be downloaded: this computer seems to be offline (or the Hugging Face "
    "hub is unreachable). The simple template captioner needs no download."
)
_SUBJECT = re.compile(r"\b(a|an|the)\s+(woman|man|person|girl|boy|lady|guy|child|kid|baby|dog|cat)\b", re.I)


def place_trigger(caption: str, trigger: str, class_word: str) -> str:
    caption = " ".join(caption.strip().split())
    if _SUBJECT.search(caption):
        caption = _SUBJECT.sub(f"{trigger} {class_word}", caption, count=1)
    else:
        caption = f"{trigger} {class_word}, {caption}" if caption else f"a photo of {trigger} {class_word}"
    return caption


class BlipCaptioner(Captioner):
    name = "blip"
    version = "1.0.0"
    label = "BLIP (describes each photo)"
    description = "A captioning model writes what each photo shows; the trigger word replaces the subject."

    def __init__(self, settings: PluginSettings, source: str | None = None):
        self.settings = settings
        self.source = source or settings.extra.get("caption_model") or DEFAULT_SOURCE
        self._model = None
        self._processor = None
        self._lock = threading.Lock()

    @property
    def _local(self) -> bool:
        return Path(self.source).is_dir()

    def availability(self) -> Availability:
        if self.settings.mode == "fast-test" and not self._local:
            return Availability.no("fast-test mode uses no model weights; use the template captioner")
        if missing_packages("transformers"):
            return Availability.no("the transformers package is not installed")
        if self._local:
            return Availability.yes(f"local model {self.source}")
        return Availability.yes(f"downloads {self.source} (~1 GB) on first use")

    def _load(self, ctx: RunContext):
        with self._lock:
            if self._model is None:
                import torch
                from transformers import BlipForConditionalGeneration, BlipProcessor

                where = "" if self._local else " (about 1 GB to download on first use)"
                ctx.progress(phase="preparing", message=f"Loading the captioning model{where}")
                ctx.log("caption.model_load", f"loading {self.source}", source=self.source)
                cache = Path(self.settings.data_dir) / "models" / "captioners"
                kwargs = {} if self._local else {"cache_dir": str(cache), "token": self.settings.hf_token}
                device = "cuda" if torch.cuda.is_available() else "cpu"
                dtype = torch.float16 if device == "cuda" else torch.float32
                try:
                    processor = BlipProcessor.from_pretrained(self.source, **kwargs)
                    model = BlipForConditionalGeneration.from_pretrained(self.source, dtype=dtype, **kwargs)
                except OSError as exc:  # transformers' answer to "not cached and cannot download"
                    ctx.log("caption.model_unavailable", f"{self.source}: {exc}", source=self.source)
                    if self._local:
                        raise PluginError(
                            f"The captioning model in {self.source} could not be read: {exc}"
                        ) from exc
                    raise PluginError(OFFLINE, code="offline") from exc
                self._processor, self._model = processor, model
                self._model.to(device).eval()
            return self._model, self._processor

    def run(self, request: CaptionRequest, ctx: RunContext) -> CaptionResult:
        import torch
        from PIL import Image

        model, processor = self._load(ctx)
        captions = []
        for index, path in enumerate(request.images, 1):
            ctx.check_cancelled()
            with Image.open(path) as opened:
                image = opened.convert("RGB")
            inputs = processor(images=image, return_tensors="pt").to(model.device, model.dtype)
            with torch.inference_mode():
                output = model.generate(**inputs, max_new_tokens=30, do_sample=False)
            text = processor.batch_decode(output, skip_special_tokens=True)[0]
            captions.append(place_trigger(text, request.trigger_word, request.class_word))
            ctx.progress(step=index, total=len(request.images))
        return CaptionResult(captions=captions)
