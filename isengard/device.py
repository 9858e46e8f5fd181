"""What accelerator this process can use. Imports torch lazily (it costs ~2 s)."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda" | "mps" | "cpu"
    name: str
    vram_gb: float | None
    torch_version: str
    bf16: bool

    @property
    def label(self) -> str:
        if self.kind == "cuda" and self.vram_gb is not None:
            return f"{self.name} ({self.vram_gb:.0f} GB VRAM)"
        return self.name

    def to_dict(self) -> dict:
        return asdict(self) | {"label": self.label}


@functools.cache
def detect_device() -> DeviceInfo:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard requirement
        return DeviceInfo("cpu", "CPU (PyTorch not installed)", None, "missing", False)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return DeviceInfo(
            "cuda",
            props.name,
            round(props.total_memory / 1024**3, 1),
            torch.__version__,
            bool(torch.cuda.is_bf16_supported()),
        )
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return DeviceInfo("mps", "Apple GPU (MPS)", None, torch.__version__, False)
    return DeviceInfo("cpu", "CPU", None, torch.__version__, False)


def cuda_available() -> bool:
    return detect_device().kind == "cuda"
