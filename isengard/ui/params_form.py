"""Form components generated from a config dataclass: label, tooltip (its help text), range and choices come
from the field metadata, so a new training setting appears in the UI with its explanation automatically."""

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
        return gr.Dropdown(choices=list(meta["choices"]), value=default, **common)
    if field.type in ("bool", bool):
        return gr.Checkbox(value=bool(default), **common)
    if field.type in ("int", int):
        return gr.Number(
            value=default, precision=0, minimum=meta.get("min"), maximum=meta.get("max"), **common
        )
    return gr.Number(value=default, minimum=meta.get("min"), maximum=meta.get("max"), **common)


def build(
    config_cls,
    *,
    include: set[str] | None = None,
    exclude: set[str] = frozenset(),
    advanced: bool | None = None,
    values: Any = None,
) -> dict[str, Any]:
    """Components for the dataclass fields (optionally only the advanced or only the simple ones), with
    their starting values taken from `values` (an instance) when given."""
    out = {}
    for field in fields(config_cls):
        if field.name in exclude or (include is not None and field.name not in include):
            continue
        if advanced is not None and bool(field.metadata.get("advanced")) != advanced:
            continue
        out[field.name] = component_for(field, getattr(values, field.name) if values is not None else None)
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
