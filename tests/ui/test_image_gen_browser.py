"""Real browser: generate, see the picture in the gallery and the history, reuse its settings, and load
settings from a PNG (fast-test mode: placeholder pictures)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_generate_history_reuse_and_load_from_png(page, studio):
    page.get_by_role("tab", name="Image Gen").click()
    page.locator("#gen-prompt textarea").fill("a lighthouse at dusk")
    seed = page.locator("#gen-seed input")
    seed.fill("4242")
    seed.press("Tab")
    page.click("#gen-go")
    page.wait_for_selector("#gen-gallery img", timeout=30_000)
    page.wait_for_selector("#gen-status .isg-progress[data-status=succeeded]")
    expect(page.locator("#gen-seeds")).to_contain_text("Seeds: 4242")
    page.shot("image_gen")

    # the gallery: newest first; click a picture, reuse its settings (the count too)
    first = page.locator("#gen-pictures button.thumbnail-item").first
    first.wait_for()
    page.locator("#gen-prompt textarea").fill("something else")
    seed.fill("1")
    first.click()
    expect(page.locator("#gen-picked")).to_contain_text("a lighthouse at dusk")
    page.click("#gen-reuse")
    page.wait_for_function(
        "() => document.querySelector('#gen-prompt textarea').value === 'a lighthouse at dusk'"
    )
    expect(page.locator("#gen-seed input")).to_have_value("4242")
    expect(page.locator("[data-testid=toast-body]").filter(has_text="Loaded the settings")).to_be_visible()

    # favourite it, show only favourites, and download those as a zip
    expect(page.locator("#gen-favourite")).to_have_text("☆ Add to favourites")
    page.click("#gen-favourite")
    expect(page.locator("#gen-favourite")).to_have_text("★ Remove from favourites")  # what a click does now
    page.locator("#gen-filter-favourites input").check()
    expect(page.locator("#gen-pictures button.thumbnail-item")).to_have_count(1)
    expect(page.locator("#gen-pictures")).to_contain_text("★ a lighthouse at dusk")
    with page.expect_download() as got:  # one click makes the zip and saves it
        page.click("#gen-zip")
    import zipfile

    with zipfile.ZipFile(got.value.path()) as archive:
        assert len(archive.namelist()) == 1 and archive.namelist()[0].endswith(".png")
    page.locator("#gen-filter-favourites input").uncheck()
    page.shot("image_gen_gallery")

    from isengard.generation.metadata import read_png_text

    pngs = sorted((studio.data_dir / "outputs").rglob("*.png"))
    assert "Seed: 4242" in read_png_text(pngs[-1])["parameters"]
    page.locator("#gen-prompt textarea").fill("")
    page.locator("#gen-load-png input[type=file]").set_input_files(str(pngs[-1]))
    page.wait_for_function(
        "() => document.querySelector('#gen-prompt textarea').value === 'a lighthouse at dusk'"
    )
    assert page.page_errors == []
