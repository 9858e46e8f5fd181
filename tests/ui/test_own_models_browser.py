"""Real browser: Settings → Your own base models. ComfyUI's three Z-Image files (the tiny model written in
ComfyUI's layout) wait in the drop-in folder; the person picks the diffusion model, its text encoder and
VAE, names it, adds it — following the conversion where they are looking — and finds it in the Base
model lists of Training and Image Gen. Without a file chosen, one sentence under the field. At 1400 px, then on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.comfy_export import export_split_files
from tests.helpers import install_tiny
from tests.server_fixtures import open_page, start_studio, stop_studio

pytestmark = pytest.mark.browser


@pytest.fixture
def files_studio(tmp_path, tiny_models):
    root = tmp_path / "own-models"
    tiny = install_tiny(root / "data", "zimage", tiny_models)
    export_split_files(tiny, root / "data" / "models" / "base" / "import", "zimage")
    studio = start_studio(root)
    yield studio
    stop_studio(studio)


def _pick(page, elem_id: str, text: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option").filter(has_text=text).first.click()


@pytest.mark.parametrize("width", [1400, 390])
def test_bring_in_comfyui_files_from_settings(browser, files_studio, width):
    with open_page(browser, files_studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.click("#isg-settings-open")
        page.locator("#isg-own-models").get_by_text("Your own base models").click()
        expect(page.locator("#own-model-parts")).to_be_hidden()  # nothing chosen: no parts to ask for
        page.click("#own-model-add")
        expect(page.locator("#own-model-file-hint")).to_contain_text("Pick the model file first.")

        _pick(page, "own-model-file", "Z-Image diffusion model")
        expect(page.locator("#own-model-parts")).to_be_visible()
        _pick(page, "own-model-te", "Text encoder")
        _pick(page, "own-model-vae", "VAE")
        page.locator("#own-model-name textarea, #own-model-name input").first.fill(f"Zed {width}")
        page.click("#own-model-add")
        added = page.locator("#own-model-added")
        expect(added).to_contain_text(f"Added Zed {width}", timeout=60_000)
        expect(page.locator("#own-model-file-hint")).to_be_hidden()  # the sentence goes once it is right
        page.shot(f"own-models-{width}")

        page.click("#isg-settings-close")
        page.get_by_role("tab", name="Training").click()
        page.locator("#train-base input").click()
        expect(page.get_by_role("option", name=f"Zed {width}")).to_have_count(1)
        page.keyboard.press("Escape")
        page.get_by_role("tab", name="Image Gen").click()
        page.locator("#gen-base input").click()
        expect(page.get_by_role("option", name=f"Zed {width}")).to_have_count(1)
        page.keyboard.press("Escape")
        assert page.page_errors == []
