"""Problems shown beside the field they concern, never as Gradio's red "Error" boxes.

When a Gradio handler raises, every output of its event turns into a persistent error badge and the
fields stop answering clicks. So handlers never raise at a person: `ui_action` catches the problem, shows
it as a toast, and fills one short line under the field it names (`IsengardError.field`), or under the
action's button when it names none. Every other component keeps its value and stays usable.
"""

from __future__ import annotations

import html

import gradio as gr


def hint_line(elem_id: str) -> gr.HTML:
    """An empty line under a field; a problem with that field appears here."""
    return gr.HTML("", elem_id=elem_id, elem_classes=["isg-hint"], padding=False, visible=False)


def problem_html(message: str, details: str = "") -> str:
    more = (
        f'<details class="isg-details"><summary>Details</summary><code>{html.escape(details)}</code></details>'
        if details
        else ""
    )
    return f'<div class="isg-problem" role="alert">{html.escape(message)}{more}</div>'


class FieldHints:
    """The hint lines of one form: `show(problem)` fills the line of the field it concerns and clears
    the others; `cleared()` empties them all (a later success)."""

    def __init__(self, lines: dict[str, gr.HTML], *, default: str):
        if default not in lines:
            raise ValueError(f"the default hint {default!r} is not one of the lines")
        self.lines = lines
        self.default = default

    @property
    def components(self) -> list[gr.HTML]:
        return list(self.lines.values())

    def line_for(self, field: str | None) -> str:
        return field if field in self.lines else self.default

    def show(self, message: str, field: str | None = None, details: str = "") -> dict:
        target = self.lines[self.line_for(field)]
        out = {line: gr.update(value="", visible=False) for line in self.lines.values()}
        out[target] = gr.update(value=problem_html(message, details), visible=True)
        return out

    def cleared(self) -> dict:
        return {line: gr.update(value="", visible=False) for line in self.lines.values()}

    def merge(self, result):
        """A handler's dict result with the lines it does not set cleared (the problem was fixed)."""
        if not isinstance(result, dict):
            raise TypeError("an action with hint lines returns a dict of component updates")
        if (
            any(isinstance(key, gr.components.Component | gr.blocks.BlockContext) for key in result)
            or not result
        ):
            return self.cleared() | result
        return result
