"""ComfyUI workflow templates: API-format graphs plus a bindings file that maps named parameters to node
inputs by node title. Code never patches numeric node ids: nodes are found by `_meta.title`.

Templates are validated against an `/object_info` (the live server's, or the recorded one in tests): node
types exist, bound inputs exist, literal values fit their type, range and choice list, links point to
existing nodes with matching output types, required inputs are present.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MODEL_INPUTS = {"ckpt_name", "unet_name", "clip_name", "clip_name1", "clip_name2", "vae_name", "lora_name"}


class WorkflowError(ValueError):
    pass


@dataclass
class Binding:
    node: str
    input: str


@dataclass
class Template:
    name: str
    family: str
    path: Path
    graph: dict[str, Any]
    parameters: dict[str, list[Binding]]
    lora_node: str | None = None
    output_node: str = "Save"
    progress_node: str | None = None
    source: str = "built-in"
    problems: list[str] = field(default_factory=list)
    requires: dict[str, Any] = field(default_factory=dict)  # comfyui (version), nodes, clip_types

    def node_id(self, title: str, graph: dict[str, Any] | None = None) -> str:
        graph = self.graph if graph is None else graph
        found = [nid for nid, node in graph.items() if (node.get("_meta") or {}).get("title") == title]
        if len(found) != 1:
            raise WorkflowError(
                f"The workflow {self.name!r} has {len(found)} nodes titled {title!r} (needs one)."
            )
        return found[0]


def load_template(bindings_file: Path, source: str = "built-in") -> Template:
    try:
        spec = yaml.safe_load(Path(bindings_file).read_text(encoding="utf-8")) or {}
        graph = json.loads((Path(bindings_file).parent / spec["workflow"]).read_text(encoding="utf-8"))
    except (OSError, KeyError, ValueError, yaml.YAMLError) as exc:
        raise WorkflowError(f"Cannot read the workflow bindings {Path(bindings_file).name}: {exc}") from None
    if "prompt" in graph and isinstance(graph["prompt"], dict) and "nodes" not in graph:
        graph = graph["prompt"]
    if "nodes" in graph and "links" in graph:
        raise WorkflowError(
            f"{spec['workflow']} is in ComfyUI's UI format; export it with 'Save (API Format)' instead."
        )
    parameters: dict[str, list[Binding]] = {}
    for name, target in (spec.get("parameters") or {}).items():
        targets = target if isinstance(target, list) else [target]
        parameters[name] = [Binding(str(t["node"]), str(t["input"])) for t in targets]
    template = Template(
        name=spec.get("name") or Path(bindings_file).stem,
        family=spec.get("family", ""),
        path=Path(bindings_file),
        graph=graph,
        parameters=parameters,
        lora_node=spec.get("lora_node"),
        output_node=spec.get("output_node", "Save"),
        progress_node=spec.get("progress_node"),
        requires=dict(spec.get("requires") or {}),
        source=source,
    )
    for bindings in parameters.values():
        for binding in bindings:
            node_id = template.node_id(binding.node)
            if binding.input not in graph[node_id].get("inputs", {}):
                raise WorkflowError(f"{template.name}: node {binding.node!r} has no input {binding.input!r}.")
    for title in filter(None, (template.lora_node, template.output_node, template.progress_node)):
        template.node_id(title)
    return template


def discover(*folders: Path) -> dict[str, Template]:
    """Templates by family; a user's own (later folders) replaces the built-in one for its family."""
    found: dict[str, Template] = {}
    for index, folder in enumerate(folders):
        if not folder or not Path(folder).is_dir():
            continue
        for bindings in sorted(Path(folder).glob("*.bindings.yaml")):
            template = load_template(bindings, source="built-in" if index == 0 else "yours")
            found[template.family] = template
    return found


# --- validation ----------------------------------------------------------------------------------------------


def _spec(object_info: dict[str, Any], class_type: str, name: str) -> tuple[list | None, bool]:
    inputs = object_info[class_type].get("input", {})
    for group in ("required", "optional"):
        if name in inputs.get(group, {}):
            return inputs[group][name], group == "required"
    return None, False


def validate(
    graph: dict[str, Any], object_info: dict[str, Any], *, check_model_choices: bool = True
) -> list[str]:
    """Problems of `graph` against `object_info`, as sentences (empty list: valid)."""
    problems: list[str] = []
    for node_id, node in graph.items():
        title = (node.get("_meta") or {}).get("title") or node_id
        class_type = node.get("class_type")
        if class_type not in object_info:
            problems.append(f"node {title!r}: ComfyUI has no node type {class_type!r}")
            continue
        inputs = node.get("inputs", {})
        required = object_info[class_type].get("input", {}).get("required", {})
        for name in required:
            if name not in inputs:
                problems.append(f"node {title!r} ({class_type}): required input {name!r} is missing")
        for name, value in inputs.items():
            spec, _ = _spec(object_info, class_type, name)
            if spec is None:
                problems.append(f"node {title!r} ({class_type}) has no input {name!r}")
                continue
            kind, opts = spec[0], (spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {})
            if (
                isinstance(value, list)
                and len(value) == 2
                and isinstance(value[0], str)
                and isinstance(value[1], int)
            ):
                source = graph.get(value[0])
                if source is None:
                    problems.append(f"node {title!r}: input {name!r} links to missing node {value[0]!r}")
                    continue
                outputs = object_info.get(source.get("class_type"), {}).get("output", [])
                if value[1] >= len(outputs):
                    problems.append(
                        f"node {title!r}: input {name!r} links to output {value[1]} that does not exist"
                    )
                elif isinstance(kind, str) and outputs[value[1]] != kind and kind != "*":
                    problems.append(
                        f"node {title!r}: input {name!r} expects {kind}, gets {outputs[value[1]]}"
                    )
                continue
            if isinstance(kind, list):  # a combo
                if name in MODEL_INPUTS and not check_model_choices:
                    continue
                if value not in kind:
                    shown = ", ".join(map(str, kind[:8])) + ("…" if len(kind) > 8 else "")
                    problems.append(f"node {title!r}: {name}={value!r} is not one of [{shown}]")
            elif kind == "INT":
                if not isinstance(value, int) or isinstance(value, bool):
                    problems.append(f"node {title!r}: {name} must be a whole number, not {value!r}")
                elif not _in_range(value, opts):
                    problems.append(
                        f"node {title!r}: {name}={value} is outside {opts.get('min')}..{opts.get('max')}"
                    )
            elif kind == "FLOAT":
                if not isinstance(value, int | float) or isinstance(value, bool):
                    problems.append(f"node {title!r}: {name} must be a number, not {value!r}")
                elif not _in_range(value, opts):
                    problems.append(
                        f"node {title!r}: {name}={value} is outside {opts.get('min')}..{opts.get('max')}"
                    )
            elif kind == "STRING" and not isinstance(value, str):
                problems.append(f"node {title!r}: {name} must be text")
            elif kind == "BOOLEAN" and not isinstance(value, bool):
                problems.append(f"node {title!r}: {name} must be true or false")
    return problems


def _in_range(value: float, opts: dict[str, Any]) -> bool:
    lo, hi = opts.get("min"), opts.get("max")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


# --- filling a template ------------------------------------------------------------------------------------


def fill(template: Template, values: dict[str, Any], loras: list[tuple[str, float]]) -> dict[str, Any]:
    """A ready-to-queue graph: bound parameters set, LoRAs chained (or the LoRA node bypassed)."""
    graph = copy.deepcopy(template.graph)
    for name, value in values.items():
        if value is None or name not in template.parameters:
            continue
        for binding in template.parameters[name]:
            graph[template.node_id(binding.node, graph)]["inputs"][binding.input] = value
    if template.lora_node:
        lora_id = template.node_id(template.lora_node, graph)
        if not loras:
            _bypass(graph, lora_id)
        else:
            _set_lora(template, graph, lora_id, *loras[0])
            previous = lora_id
            for index, (name, strength) in enumerate(loras[1:], start=2):
                previous = _chain(template, graph, previous, name, strength, index)
    return graph  # node titles (`_meta`) stay: ComfyUI accepts them and shows them


def _set_lora(template: Template, graph: dict[str, Any], node_id: str, name: str, strength: float) -> None:
    inputs = graph[node_id]["inputs"]
    inputs["lora_name"] = name
    for binding in template.parameters.get("lora_strength", []):
        if template.node_id(binding.node, graph) == node_id:
            inputs[binding.input] = strength
    if "strength_model" in inputs:
        inputs["strength_model"] = strength
    if "strength_clip" in inputs:
        inputs["strength_clip"] = strength


def _consumers(graph: dict[str, Any], node_id: str) -> list[tuple[str, str, int]]:
    return [
        (nid, name, value[1])
        for nid, node in graph.items()
        for name, value in node["inputs"].items()
        if isinstance(value, list) and len(value) == 2 and value[0] == node_id
    ]


def _bypass(graph: dict[str, Any], node_id: str) -> None:
    """Remove a pass-through node (a LoRA loader): its consumers read what it read."""
    node = graph.pop(node_id)
    passthrough = {0: node["inputs"].get("model"), 1: node["inputs"].get("clip")}
    for consumer, name, slot in _consumers(graph, node_id):
        source = passthrough.get(slot)
        if source is None:
            raise WorkflowError(f"Cannot bypass {node['class_type']}: output {slot} has no matching input.")
        graph[consumer]["inputs"][name] = list(source)


def _chain(
    template: Template, graph: dict[str, Any], previous: str, name: str, strength: float, index: int
) -> str:
    """Insert another LoRA loader after `previous`; everything that read `previous` now reads the new one."""
    new_id = str(max(int(k) for k in graph if k.isdigit()) + 1)
    consumers = _consumers(graph, previous)
    node = copy.deepcopy(graph[previous])
    node["inputs"]["model"] = [previous, 0]
    if "clip" in node["inputs"]:
        node["inputs"]["clip"] = [previous, 1]
    node.setdefault("_meta", {})["title"] = f"{template.lora_node} {index}"
    graph[new_id] = node
    _set_lora(template, graph, new_id, name, strength)
    for consumer, input_name, slot in consumers:
        graph[consumer]["inputs"][input_name] = [new_id, slot]
    return new_id


# --- the UI-format workflow (so an image dragged into ComfyUI opens its graph) -------------------------------


def ui_workflow(graph: dict[str, Any], object_info: dict[str, Any]) -> dict[str, Any]:
    """A minimal ComfyUI UI-format workflow for an API-format graph: nodes, links and widget values."""
    nodes, links = [], []
    link_id = 0
    order = sorted(graph, key=lambda k: int(k) if k.isdigit() else 0)
    outputs_links: dict[tuple[str, int], list[int]] = {}
    for column, node_id in enumerate(order):
        node = graph[node_id]
        info = object_info.get(node["class_type"], {})
        input_order = [
            *info.get("input_order", {}).get("required", []),
            *info.get("input_order", {}).get("optional", []),
        ]
        inputs, widgets = [], []
        for name in input_order or list(node["inputs"]):
            if name not in node["inputs"]:
                continue
            value = node["inputs"][name]
            spec, _ = _spec(object_info, node["class_type"], name) if info else (None, False)
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                link_id += 1
                kind = spec[0] if spec and isinstance(spec[0], str) else "*"
                links.append([link_id, int(value[0]), value[1], int(node_id), len(inputs), kind])
                outputs_links.setdefault((value[0], value[1]), []).append(link_id)
                inputs.append({"name": name, "type": kind, "link": link_id})
            else:
                widgets.append(value)
                if name in ("seed", "noise_seed"):
                    widgets.append("fixed")
        nodes.append(
            {
                "id": int(node_id),
                "type": node["class_type"],
                "pos": [40 + 320 * (column % 5), 40 + 260 * (column // 5)],
                "size": [300, 120],
                "flags": {},
                "order": column,
                "mode": 0,
                "inputs": inputs,
                "widgets_values": widgets,
                "title": (node.get("_meta") or {}).get("title", node["class_type"]),
                "properties": {"Node name for S&R": node["class_type"]},
                "outputs": [],
            }
        )
    by_id = {str(n["id"]): n for n in nodes}
    for node_id, node in graph.items():
        for slot, kind in enumerate(object_info.get(node["class_type"], {}).get("output", [])):
            by_id[node_id]["outputs"].append(
                {
                    "name": kind,
                    "type": kind,
                    "slot_index": slot,
                    "links": outputs_links.get((node_id, slot), []),
                }
            )
    return {
        "last_node_id": max((n["id"] for n in nodes), default=0),
        "last_link_id": link_id,
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


def version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def support_problem(template: Template, version: str, object_info: dict[str, Any], label: str) -> str | None:
    """One plain sentence when this server cannot run the template's model family, else None. Checked
    before anything is queued: a too-old ComfyUI would otherwise fail mid-graph with a loader error."""
    needs = template.requires
    wanted = needs.get("comfyui")
    missing = [n for n in needs.get("nodes") or [] if n not in object_info]
    clip = object_info.get("CLIPLoader", {}).get("input", {}).get("required", {}).get("type", [[]])[0]
    missing += [f"the {t} text encoder type" for t in needs.get("clip_types") or [] if t not in clip]
    old = bool(wanted) and version_tuple(version) < version_tuple(wanted)
    if not old and not missing:
        return None
    need = f"ComfyUI {wanted} or newer" if wanted else "a newer ComfyUI"
    return (
        f"This ComfyUI ({version or 'unknown version'}) is too old for {label}: it needs {need}. "
        "Update ComfyUI (git pull, or “Update ComfyUI” in its Manager) and try again."
    )
