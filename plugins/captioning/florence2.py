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
import threading
from pathlib import Path

from plugins.base import Availability, PluginError, PluginSettings, RunContext, missing_packages
from plugins.captioning.interface import Captioner, CaptionRequest, CaptionResult

DEFAULT_SOURCE = "florence-community/Florence-2-base"
TASK = "<MORE_DETAILED_CAPTION>"
OFFLINE = (
    "The Florence-2 captioner could not be downloaded: this computer seems to be offline (or the Hugging Face "
    "hub is unreachable). The simple template captioner needs no download."
)
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


class Florence2Captioner(Captioner):
    name = "florence2"
    version = "1.0.0"
    label = "Florence-2 (describes each photo)"
    description = (
        "A current captioning model describes clothes, setting, light and pose; the face is left out."
    )

    def __init__(self, settings: PluginSettings, source: str | None = None):
        self.settings = settings
        self.source = source or settings.extra.get("florence_model") or DEFAULT_SOURCE
        self._model = None
        self._processor = None
        self._lock = threading.Lock()

    @property
    def _local(self) -> bool:
        return Path(self.source).is_dir()

    def _cache(self) -> Path:
        return Path(self.settings.data_dir) / "models" / "captioners"

    def weights_present(self) -> bool:
        """Local weights (a folder, or a download already done): then it is the studio's default captioner."""
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
        return Availability.yes(f"downloads {self.source} (~0.5 GB) on first use")

    def _load(self, ctx: RunContext):
        with self._lock:
            if self._model is None:
                import torch
                from transformers import Florence2ForConditionalGeneration, Florence2Processor

                where = "" if self.weights_present() else " (about 0.5 GB to download on first use)"
                ctx.progress(phase="preparing", message=f"Loading the Florence-2 captioning model{where}")
                ctx.log("caption.model_load", f"loading {self.source}", source=self.source)
                kwargs = (
                    {} if self._local else {"cache_dir": str(self._cache()), "token": self.settings.hf_token}
                )
                device = "cuda" if torch.cuda.is_available() else "cpu"
                dtype = torch.float16 if device == "cuda" else torch.float32
                try:
                    processor = Florence2Processor.from_pretrained(self.source, **kwargs)
                    model = Florence2ForConditionalGeneration.from_pretrained(
                        self.source, dtype=dtype, **kwargs
                    )
                except OSError as exc:  # transformers' answer to "not cached and cannot download"
                    ctx.log("caption.model_unavailable", f"{self.source}: {exc}", source=self.source)
                    if self._local:
                        raise PluginError(
                            f"The captioning model in {self.source} could not be read: {exc}"
                        ) from exc
                    raise PluginError(OFFLINE, code="offline") from exc
                self._processor, self._model = processor, model.to(device).eval()
            return self._model, self._processor

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
