"""The capability matrix: what Isengard does, what it deliberately does not, and what can run right now.

Static content comes from the product spec; live availability comes from each registered plugin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugins.base import PluginRegistry

STATUSES = {
    "supported": "Supported",
    "not_implemented": "Not supported",
    "out_of_scope": "Out of scope",
    "scaffold_only": "In development",
}


@dataclass(frozen=True)
class Capability:
    key: str
    area: str
    label: str
    status: str
    note: str
    plugin_kind: str | None = None
    plugins: tuple[str, ...] = ()


CAPABILITIES: tuple[Capability, ...] = (
    Capability(
        "training.lora",
        "Training",
        "LoRA training",
        "supported",
        "The only training method: an identity LoRA for FLUX.1, SDXL or SD 1.5.",
        "training",
        ("diffusers", "ai-toolkit", "mock"),
    ),
    Capability(
        "training.dora",
        "Training",
        "DoRA training",
        "not_implemented",
        "Not supported. Isengard trains LoRA only; DoRA files are not produced.",
    ),
    Capability(
        "training.full_finetune",
        "Training",
        "Full fine-tune",
        "out_of_scope",
        "Out of scope. A LoRA captures a person for a fraction of the GPU time and disk.",
    ),
    Capability(
        "image.diffusers",
        "Image",
        "Image generation (built-in)",
        "supported",
        "FLUX.1, SDXL and SD 1.5 pipelines in this process, with LoRAs.",
        "image",
        ("diffusers", "mock"),
    ),
    Capability(
        "image.comfyui",
        "Image",
        "Image generation through ComfyUI",
        "supported",
        "Uses a ComfyUI server you already run (set COMFYUI_URL).",
        "image",
        ("comfyui",),
    ),
    Capability(
        "video.generation",
        "Video",
        "Video generation",
        "scaffold_only",
        "In development: the interface exists, nothing runs yet.",
        "video",
    ),
)


def capability_matrix(registry: PluginRegistry) -> list[dict[str, Any]]:
    """Each capability with the live state of the plugins that provide it."""
    described = {(row["kind"], row["name"]): row for row in registry.describe()}
    rows = []
    for cap in CAPABILITIES:
        providers = [
            described[(cap.plugin_kind, name)]
            for name in cap.plugins
            if cap.plugin_kind and (cap.plugin_kind, name) in described
        ]
        usable = cap.status == "supported" and any(p["available"] for p in providers)
        if cap.status != "supported":
            live = STATUSES[cap.status]
        elif not providers:
            live = "no plugin installed"
        elif usable:
            live = "ready: " + ", ".join(p["name"] for p in providers if p["available"])
        else:
            live = "unavailable: " + "; ".join(f"{p['name']}: {p['reason']}" for p in providers)
        rows.append(
            {
                "key": cap.key,
                "area": cap.area,
                "label": cap.label,
                "status": cap.status,
                "status_label": STATUSES[cap.status],
                "note": cap.note,
                "usable": usable,
                "live": live,
                "plugins": [
                    {"name": p["name"], "available": p["available"], "reason": p["reason"]} for p in providers
                ],
            }
        )
    return rows
