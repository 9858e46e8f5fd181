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
    count: int = 1  # GPUs of this kind the process sees; vram_gb is the smallest one's

    @property
    def label(self) -> str:
        name = f"{self.count} × {self.name}" if self.count > 1 else self.name
        if self.kind == "cuda" and self.vram_gb is not None:
            each = " each" if self.count > 1 else ""
            return f"{name} ({self.vram_gb:.0f} GB VRAM{each})"
        return name

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


def visible_ids(env: dict | None = None) -> list[str] | None:
    """The GPUs CUDA_VISIBLE_DEVICES lets this process see, in torch's order (cuda:0, cuda:1, …): None when
    unset (all of them); an empty list when it hides them. As CUDA does, the list stops at a bad entry."""
    value = (env if env is not None else os.environ).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    ids = []
    for part in value.split(","):
        part = part.strip()
        if not part or part.startswith("-"):
            break
        ids.append(part)
    return ids


def visible_gpu(env: dict | None = None) -> str | None:
    """The first device CUDA_VISIBLE_DEVICES lets this process see ("" or "-1": none; unset: "0")."""
    ids = visible_ids(env)
    if ids is None:
        return "0"
    return ids[0] if ids else None


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


def _smi(smi: str, which: str | None) -> list[Gpu] | None:
    """The GPUs nvidia-smi reports (all of them, or the one `which` names); None when it failed."""
    query = [smi, "--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader,nounits"]
    try:
        done = subprocess.run(
            [*query, *(["-i", which] if which is not None else [])],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        event("device.probe_failed", f"nvidia-smi: {exc!r}", level="WARNING")
        return None
    if done.returncode != 0 or not done.stdout.strip():
        event("device.probe_failed", f"nvidia-smi exited {done.returncode}", level="WARNING")
        return None
    return [gpu for line in done.stdout.strip().splitlines() if (gpu := parse_smi(line))]


def _proc_gpu(entry: Path) -> Gpu | None:
    try:
        info = (entry / "information").read_text()
    except OSError:
        return None
    model = re.search(r"^Model:\s*(.+)$", info, re.M)
    return Gpu(model.group(1).strip() if model else "NVIDIA GPU", None, None)


def probe_gpus(env: dict | None = None) -> list[tuple[str, Gpu]]:
    """The visible NVIDIA GPUs as (the id CUDA_VISIBLE_DEVICES knows it by, the GPU), in torch's order —
    from `nvidia-smi` when it is installed, else from the driver's /proc files."""
    ids = visible_ids(env)
    if ids == []:
        return []
    smi = shutil.which("nvidia-smi")
    if smi:
        if ids is None:
            found = _smi(smi, None) or []
            return [(str(i), gpu) for i, gpu in enumerate(found)]
        named = [(which, _smi(smi, which)) for which in ids]
        return [(which, gpus[0]) for which, gpus in named if gpus]
    if not PROC_GPUS.is_dir():
        return []
    entries = sorted(PROC_GPUS.iterdir())
    wanted = [str(i) for i in range(len(entries))] if ids is None else ids
    places = []
    for which in wanted:
        if which.isdigit() and int(which) < len(entries) and (gpu := _proc_gpu(entries[int(which)])):
            places.append((which, gpu))
    return places


def probe_gpu(env: dict | None = None) -> Gpu | None:
    """The first visible NVIDIA GPU, or None."""
    found = probe_gpus(env)
    return found[0][1] if found else None


@dataclass(frozen=True)
class GpuPlace:
    """One GPU a job can hold: torch's `cuda:<index>` in this process, and the id CUDA_VISIBLE_DEVICES
    knows it by (what a subprocess such as ai-toolkit is given so that it sees this GPU alone)."""

    index: int
    visible_id: str
    name: str
    vram_gb: float | None

    @property
    def device(self) -> str:
        return f"cuda:{self.index}"


@functools.cache
def list_gpus() -> tuple[GpuPlace, ...]:
    """Every GPU this process can use — the one place that says so (a test replaces it to stand for a
    machine with several). Empty on a CPU, on a Mac, or with a CPU build of torch."""
    version, cuda = torch_build()
    if version == "missing" or not cuda:
        return ()
    return tuple(GpuPlace(i, which, gpu.name, gpu.vram_gb) for i, (which, gpu) in enumerate(probe_gpus()))


@functools.cache
def detect_device() -> DeviceInfo:
    version, cuda = torch_build()
    if version == "missing":  # pragma: no cover - torch is a hard requirement
        return DeviceInfo("cpu", "CPU (PyTorch not installed)", None, "missing", False)
    if cuda:
        found = probe_gpus()
        if found:
            gpus = [gpu for _, gpu in found]
            memory = [g.vram_gb for g in gpus if g.vram_gb is not None]
            return DeviceInfo(
                "cuda",
                gpus[0].name,
                min(memory) if len(memory) == len(gpus) else None,  # what every job can count on
                version,
                all(g.compute and g.compute >= 8.0 for g in gpus),
                count=len(gpus),
            )
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return DeviceInfo("mps", "Apple GPU (MPS)", None, version, False)
    return DeviceInfo("cpu", "CPU", None, version, False)


def cuda_available() -> bool:
    return detect_device().kind == "cuda"
