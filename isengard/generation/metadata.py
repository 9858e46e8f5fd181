"""PNG metadata: an A1111-style `parameters` chunk (read by A1111/Forge and Civitai) and a JSON chunk
with the full request (read back by Isengard's "Load settings from image").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from isengard import __version__
from plugins.families import FAMILY_INFO

JSON_CHUNK = "isengard"
SAMPLER_NAMES = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_karras": "DPM++ 2M Karras",
    "ddim": "DDIM",
}
_LORA_TAG = re.compile(r"<lora:([^:>]+):([-0-9.]+)>")


@dataclass
class LoraUse:
    name: str
    strength: float
    hash: str | None = None  # AutoV2: the first 10 hex digits of the file's sha256


@dataclass
class ImageParameters:
    prompt: str
    negative_prompt: str
    steps: int
    sampler: str
    guidance: float
    seed: int
    width: int
    height: int
    model: str
    family: str
    model_hash: str | None = None
    loras: list[LoraUse] = field(default_factory=list)
    backend: str = ""

    def a1111_text(self) -> str:
        prompt = self.prompt.strip()
        for lora in self.loras:
            tag = f"<lora:{lora.name}:{lora.strength:g}>"
            if tag not in prompt:
                prompt = f"{prompt} {tag}"
        lines = [prompt]
        if self.negative_prompt.strip():
            lines.append(f"Negative prompt: {self.negative_prompt.strip()}")
        fields: list[tuple[str, str]] = [("Steps", str(self.steps)), ("Sampler", self.sampler)]
        if self.family in FAMILY_INFO and FAMILY_INFO[self.family].guidance == "embedded":
            fields += [("CFG scale", "1"), ("Distilled CFG Scale", f"{self.guidance:g}")]
        else:
            fields.append(("CFG scale", f"{self.guidance:g}"))
        fields += [("Seed", str(self.seed)), ("Size", f"{self.width}x{self.height}")]
        if self.model_hash:
            fields.append(("Model hash", self.model_hash))
        fields.append(("Model", self.model))
        hashes = [f"{lora.name}: {lora.hash}" for lora in self.loras if lora.hash]
        if hashes:
            fields.append(("Lora hashes", '"' + ", ".join(hashes) + '"'))
        fields.append(("Version", f"Isengard {__version__}"))
        if self.backend:
            fields.append(("Backend", self.backend))
        lines.append(", ".join(f"{k}: {v}" for k, v in fields))
        return "\n".join(lines)


def write_png(
    path: Path,
    image: Image.Image,
    params: ImageParameters,
    request_json: dict[str, Any],
    extra_text: dict[str, str] | None = None,
) -> Path:
    """Write the PNG atomically with its metadata chunks."""
    from isengard.storage.files import atomic_save

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", params.a1111_text())
    info.add_text(JSON_CHUNK, json.dumps(request_json, sort_keys=True, default=str))
    for key, value in (extra_text or {}).items():
        info.add_text(key, value)
    return atomic_save(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=info))


def read_png_text(path: Path) -> dict[str, str]:
    with Image.open(path) as img:
        img.load()
        return {k: v for k, v in (getattr(img, "text", None) or img.info).items() if isinstance(v, str)}


def _split_fields(line: str) -> dict[str, str]:
    """`Steps: 20, Sampler: Euler a, Lora hashes: "a: 1, b: 2"` -> dict (quoted values may hold commas)."""
    out: dict[str, str] = {}
    for match in re.finditer(r'\s*([\w ]+?):\s*("(?:\\.|[^"])*"|[^,]*)(?:,|$)', line):
        key, value = match.group(1).strip(), match.group(2).strip()
        if value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        if key:
            out[key] = value
    return out


def parse_a1111(text: str) -> dict[str, Any]:
    """Parse an A1111/Forge/Isengard `parameters` text into form values."""
    lines = text.strip().split("\n")
    field_line = lines[-1] if len(lines) > 1 and re.search(r"\bSteps:\s*\d+", lines[-1]) else ""
    body = lines[:-1] if field_line else lines
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in body:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    prompt = "\n".join(prompt_lines).strip()
    loras = [{"name": n, "strength": float(s)} for n, s in _LORA_TAG.findall(prompt)]
    prompt = _LORA_TAG.sub("", prompt).strip()
    fields = _split_fields(field_line)
    result: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": "\n".join(negative_lines).strip(),
        "loras": loras,
    }
    if "Steps" in fields:
        result["steps"] = int(fields["Steps"])
    if "Seed" in fields:
        result["seed"] = int(fields["Seed"])
    if "Size" in fields and "x" in fields["Size"]:
        w, h = fields["Size"].split("x", 1)
        result["width"], result["height"] = int(w), int(h)
    guidance = fields.get("Distilled CFG Scale") or fields.get("CFG scale")
    if guidance:
        result["guidance"] = float(guidance)
    if "Sampler" in fields:
        result["sampler"] = fields["Sampler"]
        reverse = {v: k for k, v in SAMPLER_NAMES.items()}
        if fields["Sampler"] in reverse:
            result["scheduler"] = reverse[fields["Sampler"]]
    if "Model" in fields:
        result["model"] = fields["Model"]
    return result


def settings_from_png(path: Path) -> dict[str, Any]:
    """Form values from a PNG made by Isengard (full JSON) or by A1111/Forge (parameters text)."""
    text = read_png_text(path)
    if JSON_CHUNK in text:
        data = json.loads(text[JSON_CHUNK])
        data["source"] = "isengard"
        return data
    if "parameters" in text:
        data = parse_a1111(text["parameters"])
        data["source"] = "a1111"
        return data
    return {}
