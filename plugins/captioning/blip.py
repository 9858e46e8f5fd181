"""BLIP captioner (transformers): describes each photo, then puts the trigger word where the subject is.

"a woman sitting on a bench" → "alcszx woman sitting on a bench". Weights come from the Hugging Face hub
in production (`Salesforce/blip-image-captioning-base`, ~1 GB) or from a local folder.
"""

from __future__ import annotations

import re

from plugins.base import RunContext
from plugins.captioning.interface import CaptionRequest, CaptionResult
from plugins.model_captioner import ModelCaptioner

DEFAULT_SOURCE = "Salesforce/blip-image-captioning-base"
_SUBJECT = re.compile(r"\b(a|an|the)\s+(woman|man|person|girl|boy|lady|guy|child|kid|baby|dog|cat)\b", re.I)


def place_trigger(caption: str, trigger: str, class_word: str) -> str:
    caption = " ".join(caption.strip().split())
    if _SUBJECT.search(caption):
        caption = _SUBJECT.sub(f"{trigger} {class_word}", caption, count=1)
    else:
        caption = f"{trigger} {class_word}, {caption}" if caption else f"a photo of {trigger} {class_word}"
    return caption


class BlipCaptioner(ModelCaptioner):
    name = "blip"
    version = "1.0.0"
    label = "BLIP (describes each photo)"
    description = "A captioning model writes what each photo shows; the trigger word replaces the subject."
    default_source = DEFAULT_SOURCE
    setting = "caption_model"
    download_size = "~1 GB"
    model_name = "BLIP"

    def _from_pretrained(self, source, dtype, kwargs):
        from transformers import BlipForConditionalGeneration, BlipProcessor

        processor = BlipProcessor.from_pretrained(source, **kwargs)
        return BlipForConditionalGeneration.from_pretrained(source, dtype=dtype, **kwargs), processor

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
