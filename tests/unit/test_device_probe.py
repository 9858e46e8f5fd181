"""The GPU is found without importing torch: the torch build from its files, the GPU from nvidia-smi."""

from __future__ import annotations

import os
import subprocess
import sys

from isengard import device
from isengard.settings import PROJECT_ROOT
from tests.helpers import child_env


def test_nvidia_smi_lines_are_read():
    gpu = device.parse_smi("NVIDIA H200, 143771, 9.0")
    assert gpu == device.Gpu("NVIDIA H200", 140.4, 9.0)
    assert device.parse_smi("Tesla T4, 15360, 7.5").compute == 7.5
    assert device.parse_smi("NVIDIA A100-SXM4-80GB, [N/A], [N/A]") == device.Gpu(
        "NVIDIA A100-SXM4-80GB", None, None
    )
    assert device.parse_smi("") is None


def test_cuda_visible_devices_is_respected():
    assert device.visible_gpu({}) == "0"
    assert device.visible_gpu({"CUDA_VISIBLE_DEVICES": "2,3"}) == "2"
    assert device.visible_gpu({"CUDA_VISIBLE_DEVICES": "GPU-8a1c"}) == "GPU-8a1c"
    for hidden in ("", "-1", " "):
        assert device.visible_gpu({"CUDA_VISIBLE_DEVICES": hidden}) is None


def test_this_machines_torch_build_is_read_without_importing_it():
    version, cuda = device.torch_build()
    import torch

    assert version == torch.__version__ and cuda == torch.version.cuda


def fake_smi(folder, monkeypatch, lines: list[str]) -> None:
    """A test double of nvidia-smi: every GPU's line, or the one `-i N` names (as the real one answers)."""
    smi = folder / "nvidia-smi"
    body = "\n".join(f'[ -z "$4" -o "$4" = "{i}" ] && echo "{line}"' for i, line in enumerate(lines))
    smi.write_text(f"#!/bin/sh\n{body}\nexit 0\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_a_gpu_machine_is_detected_from_nvidia_smi(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch, ["NVIDIA H200, 143771, 9.0"])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(device, "torch_build", lambda: ("2.13.0", "12.8"))
    device.detect_device.cache_clear()
    try:
        found = device.detect_device()
        assert (found.kind, found.name, found.vram_gb, found.bf16) == ("cuda", "NVIDIA H200", 140.4, True)
        assert found.label == "NVIDIA H200 (140 GB VRAM)"
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # hidden: the CPU, as torch would see it
        device.detect_device.cache_clear()
        assert device.detect_device().kind == "cpu"
        monkeypatch.setattr(device, "torch_build", lambda: ("2.13.0+cpu", None))  # a CPU build of torch
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
        device.detect_device.cache_clear()
        assert device.detect_device().kind == "cpu"
    finally:
        device.detect_device.cache_clear()


def test_commands_start_without_importing_torch(tmp_path):
    for command in (["doctor", "--json"], ["models", "list", "--json"], ["jobs", "list", "--json"]):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "isengard", *command],
            cwd=PROJECT_ROOT,
            env=child_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
        assert "torch" not in imported, command


def test_every_gpu_of_a_machine_is_listed_in_torchs_order(tmp_path, monkeypatch):
    fake_smi(tmp_path, monkeypatch, ["NVIDIA H100 80GB HBM3, 81559, 9.0", "NVIDIA L4, 23034, 8.9"] * 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(device, "torch_build", lambda: ("2.13.0", "12.8"))
    device.list_gpus.cache_clear()
    device.detect_device.cache_clear()
    try:
        places = device.list_gpus()
        assert [(p.device, p.visible_id, p.name) for p in places] == [
            ("cuda:0", "0", "NVIDIA H100 80GB HBM3"),
            ("cuda:1", "1", "NVIDIA L4"),
            ("cuda:2", "2", "NVIDIA H100 80GB HBM3"),
            ("cuda:3", "3", "NVIDIA L4"),
        ]
        found = device.detect_device()
        assert (found.count, found.vram_gb) == (4, 22.5)  # the smallest: what every job can count on
        assert found.label == "4 × NVIDIA H100 80GB HBM3 (22 GB VRAM each)"
        # CUDA_VISIBLE_DEVICES=3,1: torch's cuda:0 is the fourth GPU; a subprocess is given "3"
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1,-1,0")
        device.list_gpus.cache_clear()
        places = device.list_gpus()
        assert [(p.device, p.visible_id, p.name) for p in places] == [
            ("cuda:0", "3", "NVIDIA L4"),
            ("cuda:1", "1", "NVIDIA L4"),
        ]
    finally:
        device.list_gpus.cache_clear()
        device.detect_device.cache_clear()
