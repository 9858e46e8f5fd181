"""Form components generated from a config dataclass: label, tooltip (its help text), choices (shown as
words, `choice_labels`) come from the field metadata, so a new training setting appears in the UI with its
explanation automatically. Ranges are not given to Gradio: its own check answers "Value 0 is less than
minimum value 1" and marks the form as failed; Isengard's check names the field and a sensible value, and
the sentence appears in the hint line under the field (`hint_lines`)."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import gradio as gr


def component_for(field, value: Any | None = None):
    meta = field.metadata
    label = meta.get("label") or field.name.replace("_", " ").capitalize()
    default = value if value is not None else (field.default if field.default is not MISSING else None)
    common = {"label": label, "info": meta.get("help", ""), "elem_id": f"param-{field.name}"}
    if meta.get("choices"):
        words = meta.get("choice_labels") or {}
        return gr.Dropdown(choices=[(words.get(c, c), c) for c in meta["choices"]], value=default, **common)
    if field.type in ("bool", bool):
        return gr.Checkbox(value=bool(default), **common)
    if field.type in ("int", int):
        return gr.Number(value=default, precision=0, **common)
    return gr.Number(value=default, **common)


def build(
    config_cls,
    *,
    include: set[str] | None = None,
    exclude: set[str] = frozenset(),
    advanced: bool | None = None,
    values: Any = None,
    hint_lines: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Components for the dataclass fields (optionally only the advanced or only the simple ones), with
    their starting values taken from `values` (an instance) when given. With `hint_lines` (a dict), an
    empty problem line is placed under each field and stored there by field name."""
    from isengard.ui.hints import hint_line

    out = {}
    for field in fields(config_cls):
        if field.name in exclude or (include is not None and field.name not in include):
            continue
        if advanced is not None and bool(field.metadata.get("advanced")) != advanced:
            continue
        out[field.name] = component_for(field, getattr(values, field.name) if values is not None else None)
        if hint_lines is not None:
            hint_lines[field.name] = hint_line(f"param-{field.name}-hint")
    return out


def coerce(config_cls, values: dict[str, Any]) -> dict[str, Any]:
    """Form values back to the field types (Gradio numbers arrive as floats)."""
    types = {f.name: f.type for f in fields(config_cls)}
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        kind = types.get(name)
        if kind in ("int", int):
            out[name] = int(value)
        elif kind in ("float", float):
            out[name] = float(value)
        elif kind in ("bool", bool):
            out[name] = bool(value)
        else:
            out[name] = value
    return out
