"""What accelerator this process can use, found without importing torch (importing it costs ~1–2 s on
every command): the torch build's CUDA version is read from its `version.py`, the GPU from `nvidia-smi`
(name, memory, compute capability) or the driver's `/proc` entries. Work that needs torch imports it then.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from isengard.obs import event

PROC_GPUS = Path("/proc/driver/nvidia/gpus")


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


@dataclass(frozen=True)
class Gpu:
    name: str
    vram_gb: float | None
    compute: float | None  # compute capability, e.g. 9.0; bf16 from 8.0


def torch_build() -> tuple[str, str | None]:
    """(torch's version, the CUDA version it was built for or None), read from its files, not imported."""
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "missing", None
    spec = importlib.util.find_spec("torch")  # a top-level find_spec locates the package, imports nothing
    folder = Path(spec.origin).parent if spec and spec.origin else None
    try:
        text = (folder / "version.py").read_text() if folder else ""
    except OSError:
        text = ""
    found = re.search(r"^cuda\s*(?::[^=\n]*)?=\s*['\"]([^'\"]+)['\"]", text, re.M)
    return version, found.group(1) if found else None


def visible_gpu(env: dict | None = None) -> str | None:
    """The first device CUDA_VISIBLE_DEVICES lets this process see ("" or "-1": none; unset: "0")."""
    value = (env if env is not None else os.environ).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return "0"
    first = value.split(",")[0].strip()
    return None if first in ("", "-1") or first.startswith("-") else first


def parse_smi(line: str) -> Gpu | None:
    """One `nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv,noheader,nounits` line."""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) < 2 or not parts[0]:
        return None

    def number(text: str) -> float | None:
        try:
            return float(text)
        except ValueError:
            return None

    mib = number(parts[1])
    return Gpu(parts[0], round(mib / 1024, 1) if mib else None, number(parts[2]) if len(parts) > 2 else None)


def probe_gpu(env: dict | None = None) -> Gpu | None:
    """The visible NVIDIA GPU, or None — `nvidia-smi` when it is installed, else the driver's /proc files."""
    which = visible_gpu(env)
    if which is None:
        return None
    smi = shutil.which("nvidia-smi")
    if smi:
        query = [smi, "--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"]
        try:
            done = subprocess.run([*query, "-i", which], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as exc:
            event("device.probe_failed", f"nvidia-smi: {exc!r}", level="WARNING")
        else:
            if done.returncode == 0 and done.stdout.strip():
                return parse_smi(done.stdout.strip().splitlines()[0])
            event("device.probe_failed", f"nvidia-smi exited {done.returncode}", level="WARNING")
            return None
    if which.isdigit() and PROC_GPUS.is_dir():
        entries = sorted(PROC_GPUS.iterdir())
        if int(which) < len(entries):
            try:
                info = (entries[int(which)] / "information").read_text()
            except OSError:
                return None
            model = re.search(r"^Model:\s*(.+)$", info, re.M)
            return Gpu(model.group(1).strip() if model else "NVIDIA GPU", None, None)
    return None


@functools.cache
def detect_device() -> DeviceInfo:
    version, cuda = torch_build()
    if version == "missing":  # pragma: no cover - torch is a hard requirement
        return DeviceInfo("cpu", "CPU (PyTorch not installed)", None, "missing", False)
    if cuda:
        gpu = probe_gpu()
        if gpu is not None:
            return DeviceInfo(
                "cuda", gpu.name, gpu.vram_gb, version, bool(gpu.compute and gpu.compute >= 8.0)
            )
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return DeviceInfo("mps", "Apple GPU (MPS)", None, version, False)
    return DeviceInfo("cpu", "CPU", None, version, False)


def cuda_available() -> bool:
    return detect_device().kind == "cuda"
