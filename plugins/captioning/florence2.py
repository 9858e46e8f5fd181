"""Florence-2 captioner (MIT; natively in transformers, no remote code): the detailed-caption task writes a
paragraph about each photo, then the caption is made right for an identity LoRA — it starts with the trigger
and class word and describes everything but the face (clothes, setting, light, pose, expression): whatever
the model wrote about eyes, nose, skin and the like is left out, so the trigger word carries the face.

Weights: `florence-community/Florence-2-base` (~0.5 GB; `-large` ~1.5 GB; the same weights Microsoft
published as microsoft/Florence-2-*, in transformers' own format) from the Hugging Face hub, or a local
folder (`ISENGARD_FLORENCE_MODEL`). On a CPU a photo takes seconds: progress is per photo.
"""

from __future__ import annotations

import re

from plugins.base import RunContext
from plugins.captioning.interface import CaptionRequest, CaptionResult
from plugins.model_captioner import ModelCaptioner

DEFAULT_SOURCE = "florence-community/Florence-2-base"
TASK = "<MORE_DETAILED_CAPTION>"
# what belongs to the face (the trigger word learns it); expressions (smiling) and hair stay
FACE = re.compile(
    r"\b(face|faces|facial|eyes?|eyebrows?|eyelashes|nose|lips|cheeks?|cheekbones?|jaw(?:line)?|chin|"
    r"skin|complexion|freckles?|wrinkles?|beard|moustache|mustache|forehead|teeth|irises)\b",
    re.I,
)
BOILERPLATE = re.compile(
    r"^(the|this)\s+(image|picture|photo|photograph)\s+(shows|is|depicts|features|captures)\s+(of\s+)?|"
    r"^in\s+(the|this)\s+(image|picture|photo)\s*,?\s*(we\s+can\s+see\s+|there\s+is\s+)?|"
    r"^(we\s+can\s+see|there\s+is)\s+|^(a|an)\s+(close-up|photo|picture|portrait)\s+of\s+",
    re.I,
)
SUBJECT = re.compile(
    r"\b(a|an|the)\s+(?:(?:young|old|elderly|middle-aged|smiling|happy)\s+)?"
    r"(woman|man|person|girl|boy|lady|guy|child|kid|baby|gentleman)\b",
    re.I,
)
MAX_WORDS = 70


def identity_caption(text: str, trigger: str, class_word: str) -> str:
    """The model's description, made right for an identity LoRA (see the module docstring)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join((text or "").split())) if s.strip()]
    kept: list[str] = []
    for sentence in sentences:
        if FACE.search(sentence):  # keep the clauses that do not describe the face
            clauses = [c.strip() for c in re.split(r",\s*|\s+and\s+", sentence)]
            clauses = [c for c in clauses if c and not FACE.search(c)]
            if not clauses:
                continue
            sentence = ", ".join(clauses).rstrip(".") + "."
        kept.append(sentence)
    body = " ".join(kept)
    body = BOILERPLATE.sub("", body, count=1).strip()
    lead = SUBJECT.match(body)
    if lead:  # "a woman wearing a red coat…" → "wearing a red coat…"
        body = body[lead.end() :].lstrip(" ,")
    body = SUBJECT.sub(f"the {class_word}", body)
    words = body.split()
    if len(words) > MAX_WORDS:
        body = " ".join(words[:MAX_WORDS]).rstrip(",;") + "."
    head = f"{trigger} {class_word}"
    return f"{head}, {body}" if body else head


class Florence2Captioner(ModelCaptioner):
    name = "florence2"
    version = "1.0.0"
    label = "Florence-2 (describes each photo)"
    description = (
        "A current captioning model describes clothes, setting, light and pose; the face is left out."
    )
    default_source = DEFAULT_SOURCE
    setting = "florence_model"
    download_size = "~0.5 GB"
    model_name = "Florence-2"

    def _from_pretrained(self, source, dtype, kwargs):
        from transformers import Florence2ForConditionalGeneration, Florence2Processor

        processor = Florence2Processor.from_pretrained(source, **kwargs)
        return Florence2ForConditionalGeneration.from_pretrained(source, dtype=dtype, **kwargs), processor

    def run(self, request: CaptionRequest, ctx: RunContext) -> CaptionResult:
        import torch
        from PIL import Image

        model, processor = self._load(ctx)
        captions, total = [], len(request.images)
        for index, path in enumerate(request.images, 1):
            ctx.check_cancelled()
            ctx.progress(
                phase="captioning",
                step=index - 1,
                total=total,
                message=f"Describing photo {index} of {total}",
            )
            with Image.open(path) as opened:
                image = opened.convert("RGB")
            inputs = processor(text=TASK, images=image, return_tensors="pt").to(model.device)
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
            with torch.inference_mode():
                output = model.generate(**inputs, max_new_tokens=96, num_beams=3, do_sample=False)
            text = processor.batch_decode(output, skip_special_tokens=True)[0]
            captions.append(identity_caption(text, request.trigger_word, request.class_word))
            ctx.progress(step=index, total=total)
        return CaptionResult(captions=captions)
