"""Real browser against the fake ComfyUI server (recorded /object_info): switching Image Gen's backend to
ComfyUI picks one of the server's own checkpoints, by the name the server shows, not the tiny FLUX it
cannot run; generating then uses that checkpoint."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fake_comfyui import FakeComfyUI
from tests.server_fixtures import open_page, start_studio, stop_studio

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def comfy_studio(tmp_path_factory):
    server = FakeComfyUI().start()
    for folder, name in (
        ("checkpoints", "juggernautXL_v9.safetensors"),
        ("diffusion_models", "flux1-dev.safetensors"),
        ("vae", "ae.safetensors"),
    ):
        server.add_model(folder, name)
    root = tmp_path_factory.mktemp("comfy-studio")
    studio = start_studio(root, ISENGARD_MODE="production", COMFYUI_URL=server.url)
    yield studio
    stop_studio(studio)
    server.stop()


def test_switching_to_comfyui_picks_a_checkpoint_the_server_has(browser, comfy_studio):
    with open_page(browser, comfy_studio) as page:
        page.get_by_role("tab", name="Image Gen").click()
        base = page.locator("#gen-base input")
        expect(base).to_be_visible()
        assert "juggernaut" not in base.input_value().lower()
        backend = page.locator("#gen-backend input")
        if not backend.is_visible():  # the backend sits under the advanced settings
            page.get_by_text("Advanced settings", exact=False).first.click()
        backend.click()
        page.get_by_role("option", name="ComfyUI server", exact=False).first.click()
        page.wait_for_function(
            "() => document.querySelector('#gen-base input').value.toLowerCase().includes('juggernaut')"
        )
        base.click()
        options = page.get_by_role("option").all_inner_texts()
        assert any("juggernaut" in o.lower() for o in options), options
        assert not any("Tiny FLUX" in o for o in options), options  # the server's models, not ours
        page.keyboard.press("Escape")
        page.shot("image_gen_comfyui_backend")
        assert page.page_errors == []
