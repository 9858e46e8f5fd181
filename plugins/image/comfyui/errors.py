"""ComfyUI's error bodies turned into sentences a person understands (not JSON)."""

from __future__ import annotations

from typing import Any

FOLDERS = {
    "lora_name": "loras",
    "ckpt_name": "checkpoints",
    "unet_name": "diffusion_models (or unet)",
    "clip_name": "text_encoders (or clip)",
    "clip_name1": "text_encoders (or clip)",
    "clip_name2": "text_encoders (or clip)",
    "vae_name": "vae",
}
WHAT = {
    "lora_name": "LoRA",
    "ckpt_name": "checkpoint",
    "unet_name": "diffusion model",
    "clip_name": "text encoder",
    "clip_name1": "text encoder",
    "clip_name2": "text encoder",
    "vae_name": "VAE",
}


def _one(error: dict[str, Any], class_type: str) -> str:
    kind = error.get("type", "")
    extra = error.get("extra_info") or {}
    name = extra.get("input_name") or error.get("details", "")
    if kind == "value_not_in_list":
        value = extra.get("received_value")
        if name in FOLDERS:
            return f"the {WHAT[name]} `{value}` is not in ComfyUI's {FOLDERS[name]} folder"
        return f"`{value}` is not a valid choice for {name} of {class_type}"
    if kind == "value_smaller_than_min":
        return f"{name} of {class_type} is {extra.get('received_value')}, below ComfyUI's minimum ({error['message']})"
    if kind == "value_bigger_than_max":
        return f"{name} of {class_type} is {extra.get('received_value')}, above ComfyUI's maximum ({error['message']})"
    if kind == "required_input_missing":
        return f"{class_type} is missing its `{name}` input"
    if kind == "invalid_input_type":
        return f"{name} of {class_type} has the wrong type ({error.get('details', '')})"
    if kind == "return_type_mismatch":
        return f"{class_type} got the wrong kind of input: {error.get('details', '')}"
    if kind == "custom_validation_failed":
        return f"{class_type} refused its input: {error.get('details', '')}"
    if kind == "exception_during_validation":
        return f"{class_type} points to a node that is not in the workflow ({error.get('details', '')})"
    return f"{class_type}: {error.get('message', kind)} {error.get('details', '')}".strip()


def describe_validation(body: dict[str, Any]) -> str:
    """A 400 body of POST /prompt (or node_errors of a 200) → one or more plain sentences."""
    node_errors = body.get("node_errors") or {}
    sentences = []
    for node in node_errors.values():
        for error in node.get("errors", []):
            sentences.append(_one(error, node.get("class_type", "a node")))
    if sentences:
        return "ComfyUI rejected the workflow: " + "; ".join(dict.fromkeys(sentences)) + "."
    error = body.get("error") or {}
    kind, message = error.get("type"), error.get("message", "")
    if kind == "invalid_prompt" and "does not exist" in message:
        node = message.split("node ", 1)[-1].split(" does not exist")[0]
        return (
            f"ComfyUI has no node called `{node}` — the workflow needs a custom node that is not installed "
            "on this ComfyUI."
        )
    if kind == "prompt_no_outputs":
        return "ComfyUI rejected the workflow: it has no output node (such as Save Image)."
    return f"ComfyUI rejected the workflow: {message or body}"


def describe_execution_error(data: dict[str, Any]) -> str:
    node = data.get("node_type") or "a node"
    message = (data.get("exception_message") or "").strip()
    kind = data.get("exception_type") or ""
    hint = ""
    if "SafetensorError" in kind or "deserializing header" in message:
        hint = " The model file may be empty, unfinished or corrupt: download it again."
    elif "out of memory" in message.lower() or "OutOfMemory" in kind:
        hint = " The GPU ran out of memory: use a smaller size, or a lighter model."
    return f"ComfyUI failed while running {node}: {message or kind}.{hint}"
