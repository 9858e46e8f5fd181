"""The template captioner: no model, instant, the same sentence for every photo.

A fine default for identity LoRAs: the trigger word carries the person, the class word the kind of subject.
"""

from __future__ import annotations

from plugins.base import Availability, RunContext
from plugins.captioning.interface import Captioner, CaptionRequest, CaptionResult

DEFAULT_TEMPLATE = "a photo of {trigger}, a {class_word}"


def render_template(template: str, trigger: str, class_word: str) -> str:
    text = (template or DEFAULT_TEMPLATE).replace("{trigger}", trigger).replace("{class_word}", class_word)
    text = " ".join(text.split())
    return text if trigger in text else f"{trigger}, {text}"


class TemplateCaptioner(Captioner):
    name = "template"
    version = "1.0.0"
    label = "Simple template (instant)"
    description = "Writes the same caption for every photo, e.g. 'a photo of alcszx, a woman'."

    def availability(self) -> Availability:
        return Availability.yes("always available (no model needed)")

    def run(self, request: CaptionRequest, ctx: RunContext) -> CaptionResult:
        caption = render_template(request.template, request.trigger_word, request.class_word)
        captions = []
        for index, _ in enumerate(request.images, 1):
            ctx.check_cancelled()
            captions.append(caption)
            ctx.progress(step=index, total=len(request.images))
        return CaptionResult(captions=captions)
