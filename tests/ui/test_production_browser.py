"""Real browser, production mode on the tiny offline FLUX: train a character's LoRA in the Training tab,
then generate with it in the Image Gen tab. Real diffusers + peft run behind the page (no placeholders)."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from isengard.generation.metadata import read_png_text
from tests import photos
from tests.helpers import child_env, install_tiny, run_cli
from tests.server_fixtures import choose, open_page, start_studio, stop_studio

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TINY_FLUX = "Tiny FLUX (test model)"
TINY_TURBO = "Tiny Z-Image Turbo (test model)"


@pytest.fixture(scope="module")
def production_studio(tmp_path_factory, tiny_models):
    root = tmp_path_factory.mktemp("production-studio")
    install_tiny(root / "data", "flux", tiny_models)
    install_tiny(root / "data", "zimage", tiny_models)
    studio = start_studio(root, ISENGARD_MODE="production")
    yield studio
    stop_studio(studio)


def test_train_then_generate_with_the_lora(browser, production_studio, tmp_path):
    studio = production_studio
    env = child_env(studio.root, ISENGARD_MODE="production")
    good = photos.good_set(tmp_path / "in")
    created = run_cli(["character", "create", "Prod Person", "--photos", *map(str, good), "--no-check"], env)
    assert created.returncode == 0, created.stderr

    with open_page(browser, studio) as page:
        expect(page.locator("#isg-mode")).to_contain_text("Ready: this computer")
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Prod Person")
        choose(page, "train-base", TINY_FLUX)
        page.wait_for_function(
            "() => document.querySelector('#train-preset input').value.includes('Tiny test model')"
        )
        # settings that do nothing here are not shown: no simulated trainer outside test mode, no conv
        # layers for FLUX
        page.locator("#train-advanced").get_by_text("Advanced settings").click()
        expect(page.locator("#param-train_conv")).to_be_hidden()
        expect(page.locator("#param-guidance")).to_be_visible()
        page.locator("#train-backend input").click()
        expect(page.get_by_role("option").filter(has_text="Mock")).to_have_count(0)
        page.keyboard.press("Escape")
        steps = page.locator("#param-steps input")
        steps.fill("30")
        steps.press("Tab")
        page.click("#train-start")
        page.wait_for_selector("#train-done", timeout=180_000)
        expect(page.locator("#train-status")).to_contain_text("done · 30 steps")
        page.locator("#train-details").get_by_text("Details: loss curve and log").click()
        expect(page.locator("#train-log textarea")).to_have_value(re.compile("status: succeeded"))
        expect(page.locator("#lib-card")).to_contain_text("Prod Person — ")
        page.shot("training_production")

        page.get_by_role("tab", name="Image Gen").click()
        choose(page, "gen-base", TINY_FLUX)
        # Gradio mounts an accordion's fields only when it first opens, and a value set by the server
        # (the model's default steps) can land on a field that has just mounted. Open it now, long before
        # typing into it, so that late update cannot overwrite what the test types.
        page.click("#gen-advanced")
        page.wait_for_selector("#gen-steps input[type=number]")
        page.locator("#gen-character input").click()
        page.get_by_role("option", name="Prod Person").click()
        page.wait_for_function(
            "() => document.querySelector('#gen-lora input').value.includes('Prod Person')"
        )
        page.locator("#gen-prompt textarea").fill("portrait in a garden")
        seed = page.locator("#gen-seed input")
        seed.fill("11")
        seed.press("Tab")
        page.click("#gen-go")
        page.wait_for_selector("#gen-status .isg-progress[data-status=succeeded]", timeout=180_000)
        page.wait_for_selector("#gen-gallery img")
        page.shot("image_gen_production")
        pngs = sorted((studio.data_dir / "outputs").rglob("*.png"))
        assert len(pngs) == 1
        first = pngs[0]

        # A longer picture: the live preview appears while it forms and goes away when it is done. The most
        # steps the form takes (150: ~7 s here): under load the page's follow has started 3 s after the
        # click, and a 60-step picture (2.8 s) was finished by then — so no preview was ever due
        expect(page.locator("#gen-preview")).to_be_hidden()
        longer = (("gen-steps", "150"), ("gen-width", "256"), ("gen-height", "256"))
        for elem_id, value in longer:
            field = page.locator(f"#{elem_id} input[type=number]")
            field.fill(value)
            field.press("Tab")
        for elem_id, value in longer:
            expect(page.locator(f"#{elem_id} input[type=number]")).to_have_value(value)
        page.click("#gen-go")
        page.wait_for_selector("#gen-preview img", state="visible", timeout=120_000)
        page.shot("image_gen_production_live_preview")
        expect(page.locator("#gen-status")).to_contain_text("Generating image 1 of 1")
        page.wait_for_selector("#gen-status .isg-progress[data-status=succeeded]", timeout=180_000)
        page.wait_for_selector("#gen-preview", state="hidden")
        assert page.page_errors == []

    pngs = sorted((studio.data_dir / "outputs").rglob("*.png"), key=lambda path: path.stat().st_mtime)
    assert pngs[0] == first and len(pngs) == 2
    assert Image.open(pngs[1]).size == (256, 256)
    text = read_png_text(first)["parameters"]
    assert "portrait in a garden <lora:prod_person" in text and "Seed: 11" in text
    assert "Model: tiny-flux" in text and "Steps: 4," in text  # the tiny model's own default steps
    assert Image.open(first).size == (64, 64)  # the tiny model's own resolution, not a placeholder's


def test_z_image_turbo_trains_and_generates_with_its_licence_shown(browser, production_studio, tmp_path):
    """A licence-clean family end to end: the licence beside the model in both tabs, Turbo's training
    adapter used while training, its guidance-off defaults and no negative prompt in Image Gen."""
    studio = production_studio
    env = child_env(studio.root, ISENGARD_MODE="production")
    good = photos.good_set(tmp_path / "in")
    created = run_cli(["character", "create", "Zed Person", "--photos", *map(str, good), "--no-check"], env)
    assert created.returncode == 0, created.stderr

    with open_page(browser, studio) as page:
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Zed Person")
        page.locator("#train-base input").click()
        expect(page.get_by_role("option", name="FLUX.1 [dev] · non-commercial")).to_be_visible()
        page.get_by_role("option", name=TINY_TURBO, exact=True).click()
        expect(page.locator("#train-model-state")).to_contain_text(
            "Licence: Apache-2.0 · commercial use: yes"
        )
        page.wait_for_function(
            "() => document.querySelector('#train-preset input').value.includes('Tiny test model')"
        )
        steps = page.locator("#param-steps input")
        steps.fill("20")
        steps.press("Tab")
        page.click("#train-start")
        page.wait_for_selector("#train-done", timeout=180_000)
        expect(page.locator("#train-status")).to_contain_text("done · 20 steps")
        expect(page.locator("#lib-card")).to_contain_text("Zed Person — ")
        page.shot("training_zimage_turbo")

        page.get_by_role("tab", name="Image Gen").click()
        choose(page, "gen-base", TINY_TURBO)
        expect(page.locator("#gen-licence")).to_contain_text("Licence: Apache-2.0 · commercial use: yes")
        expect(page.locator("#gen-negative")).to_be_hidden()  # Turbo runs without guidance: no negative
        page.click("#gen-advanced")
        page.wait_for_selector("#gen-steps input[type=number]")
        expect(page.locator("#gen-guidance input[type=number]")).to_have_value("0")
        page.locator("#gen-character input").click()
        page.get_by_role("option", name="Zed Person").click()
        page.wait_for_function("() => document.querySelector('#gen-lora input').value.includes('Zed Person')")
        page.locator("#gen-prompt textarea").fill("portrait in a garden")
        page.click("#gen-go")
        page.wait_for_selector("#gen-status .isg-progress[data-status=succeeded]", timeout=180_000)
        page.wait_for_selector("#gen-gallery img")
        page.shot("image_gen_zimage_turbo")
