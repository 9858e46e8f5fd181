"""Real browser: Characters → Caption all with Florence-2 (the tiny offline model, preselected because its
weights are here), every caption starting with the person's trigger and class word — at 1400 and 390 px."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.helpers import child_env, cli_person, run_cli
from tests.server_fixtures import choose, open_page, start_studio, stop_studio

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def florence_studio(tmp_path_factory, tiny_models):
    from isengard.tiny.florence2 import build_tiny_florence2

    model = build_tiny_florence2(tiny_models / "tiny-florence2")
    root = tmp_path_factory.mktemp("florence-studio")
    studio = start_studio(root, ISENGARD_FLORENCE_MODEL=str(model))
    yield studio
    stop_studio(studio)


@pytest.mark.parametrize("width", [1400, 390])
def test_caption_all_with_florence2(browser, florence_studio, tmp_path, width):
    studio = florence_studio
    name = f"Florence Person {width}"
    cli_person(studio.root, name, tmp_path, "--no-check")
    shown = run_cli(["character", "show", name, "--json"], child_env(studio.root))
    trigger = json.loads(shown.stdout)["character"]["trigger_word"]
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        choose(page, "char-pick", name)
        expect(page.locator("#char-captioner input")).to_have_value("Florence-2 (describes each photo)")
        page.click("#char-caption-all")
        expect(page.locator("#char-job .isg-progress[data-status=succeeded]")).to_be_visible(timeout=60_000)
        page.locator("#char-captions-view").get_by_text("All captions").click()
        rows = page.locator(".isg-caption-row")
        expect(rows).to_have_count(4)
        for index in range(4):
            value = rows.nth(index).locator("textarea, input[type=text]").first.input_value()
            assert value.startswith(f"{trigger} person"), value
        page.shot(f"characters-florence2-{width}")
        assert page.page_errors == []
    listed = json.loads(run_cli(["character", "show", name, "--json"], child_env(studio.root)).stdout)
    assert all(p["caption_source"] == "model" for p in listed["photos"])
