"""The tiny models' weights, shipped as files in the package so every machine builds the same bits.

Random initialisation and the VAE pre-training are not portable: `torch.randn` takes a different code path
with and without AVX2 (values differ in the last bits), and a convolution's backward pass sums in an order
that depends on the thread count and the kernels MKL/oneDNN pick for the processor. Over the VAE's 300
pre-training steps those last bits grew into different weights on different machines, and every loss the
tests compare drifted with them. So the builders here construct each architecture (fast, untrained) and load
its weights from `weights/<name>.safetensors`: one file per tiny model, each component's state dict under
`<component>/<key>`, extra files (Z-Image's training adapter) under `@<file name>/<key>`, and the config
values the pre-training measured (the VAE's latent scale and shift) in the metadata.

`python -m isengard.tiny.freeze` re-trains and re-records the files (see that module); nothing else writes
them.
"""

from __future__ import annotations

import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
# Config values that the VAE pre-training measures from its own latents (see `isengard/tiny/vae.py`)
MEASURED_CONFIG = ("scaling_factor", "shift_factor", "latents_mean", "latents_std")


def weights_file(name: str) -> Path:
    return WEIGHTS_DIR / f"{name}.safetensors"


def modules_of(pipe) -> dict:
    """The pipeline's torch modules by component name (tokenizers and schedulers have no weights)."""
    import torch

    return {name: part for name, part in pipe.components.items() if isinstance(part, torch.nn.Module)}


def save_frozen(path: Path, modules: dict, *, extras: dict | None = None, note: str = "") -> None:
    """Write `modules` (name → torch module) and `extras` (file name → tensors) to one safetensors file."""
    from safetensors.torch import save_file

    tensors, configs = {}, {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value.detach().contiguous().clone()  # tied weights are saved apart
        config = getattr(module, "config", None)
        measured = {
            k: config[k] for k in MEASURED_CONFIG if isinstance(config, dict) and config.get(k) is not None
        }
        if measured:
            configs[name] = measured
    for filename, parts in (extras or {}).items():
        for key, value in parts.items():
            tensors[f"@{filename}/{key}"] = value.detach().contiguous().clone()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"configs": json.dumps(configs, sort_keys=True), "note": note})
    tmp.replace(path)


def load_frozen(path: Path, modules: dict) -> dict:
    """Load the recorded weights into `modules` (strictly: a missing or extra key is an error, so an
    architecture change cannot pass unnoticed) and return the extra files' tensors by file name."""
    from safetensors import safe_open

    if not path.exists():
        raise FileNotFoundError(f"the tiny model weights {path.name} are missing from the package")
    grouped: dict[str, dict] = {}
    with safe_open(str(path), framework="pt") as handle:
        configs = json.loads((handle.metadata() or {}).get("configs") or "{}")
        for key in handle.keys():  # noqa: SIM118 - a safetensors handle, not a dict
            owner, _, name = key.partition("/")
            grouped.setdefault(owner, {})[name] = handle.get_tensor(key)
    unknown = sorted(set(grouped) - set(modules) - {k for k in grouped if k.startswith("@")})
    missing = sorted(set(modules) - set(grouped))
    if unknown or missing:
        raise ValueError(f"{path.name} does not match the architecture: extra {unknown}, missing {missing}")
    for name, module in modules.items():
        module.load_state_dict(grouped[name], strict=True)
        if configs.get(name):
            module.register_to_config(**configs[name])
    return {owner[1:]: tensors for owner, tensors in grouped.items() if owner.startswith("@")}


def save_tiny_transformers(target: Path, name: str, architecture) -> Path:
    """Build (once) a tiny transformers model and its processor under `target`: `architecture()` gives them
    with random weights, the shipped `<name>` weights are loaded in, and both are saved whole or not at all."""
    import shutil

    target = Path(target)
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        return target
    model, processor = architecture()
    load_frozen(weights_file(name), {"model": model})
    tmp = target.with_name(target.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target
