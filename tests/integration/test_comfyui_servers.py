"""Several ComfyUI servers (COMFYUI_URL=a,b,c): each picture goes to the ready server with the shortest
queue; a server that stops answering is skipped with a note in the log."""

from __future__ import annotations

import pytest

from isengard.generation.service import GenerateForm
from tests.fake_comfyui import FakeComfyUI
from tests.helpers import make_settings, read_log_lines


def _server() -> FakeComfyUI:
    server = FakeComfyUI().start()
    server.add_model("checkpoints", "sd15_model.safetensors")
    return server


@pytest.fixture
def servers():
    found = [_server() for _ in range(3)]
    yield found
    for server in found:
        server.stop()


def test_each_picture_goes_to_the_shortest_queue_and_a_silent_server_is_skipped(tmp_path, servers):
    from isengard.context import bootstrap

    busy, idle, gone = servers
    busy.running = {"number": 1, "prompt_id": "theirs", "prompt": {}, "client_id": "x", "outputs": []}
    urls = ",".join(s.url for s in servers)
    ctx = bootstrap(make_settings(tmp_path, mode="production", env={"COMFYUI_URL": urls}), console=False)
    try:
        backend = ctx.registry.get("image", "comfyui")
        assert backend.availability().reason.startswith("3 of 3 ComfyUI servers ready")
        gone.stop()
        form = GenerateForm(
            prompt="a photo",
            backend="comfyui",
            base_model="comfyui:checkpoints/sd15_model.safetensors",
            width=64,
            height=64,
            steps=2,
        )
        job = ctx.runner.wait(ctx.generation.submit(form)[0], timeout=60)
        assert job.status == "succeeded", job.error
        assert [p for _, p, _ in idle.requests if p == "/prompt"]
        assert not [p for _, p, _ in busy.requests if p == "/prompt"]
        lines = read_log_lines(tmp_path / "logs", "worker")
        skipped = [line for line in lines if line.get("event") == "comfyui.server_skipped"]
        assert skipped and gone.url in skipped[0]["message"]
        chosen = [line for line in lines if line.get("event") == "comfyui.server_chosen"]
        assert chosen and chosen[0]["context"]["server"] == idle.url
        busy.running = None  # now the first is as free as the second: the first in the list wins
        job = ctx.runner.wait(ctx.generation.submit(form)[0], timeout=60)
        assert job.status == "succeeded", job.error
        assert [p for _, p, _ in busy.requests if p == "/prompt"]
    finally:
        ctx.close()


def test_comfyui_url_takes_a_list_and_checks_each(tmp_path):
    from isengard.errors import SettingsError
    from isengard.settings import Settings

    env = {"ISENGARD_MODE": "fast-test", "COMFYUI_URL": "http://a:8188, http://b:8188/"}
    assert (
        Settings.from_env(env, volume_roots=(), project_root=tmp_path).comfyui_url
        == "http://a:8188,http://b:8188"
    )
    with pytest.raises(SettingsError):
        Settings.from_env(
            env | {"COMFYUI_URL": "http://a:8188,ftp://b"}, volume_roots=(), project_root=tmp_path
        )
