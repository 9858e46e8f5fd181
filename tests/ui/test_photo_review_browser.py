"""Real browser: many photos at once — a suggestion names its photos, selects them and removes them, and
Undo brings them back; two captions edited in the captions list; a photo's original beside its crop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.helpers import child_env, run_cli
from tests.server_fixtures import choose

pytestmark = pytest.mark.browser


def test_suggestions_select_remove_undo_and_the_captions_list(page, studio, tmp_path):
    env = child_env(studio.root)
    good = photos.good_set(tmp_path / "in")
    made = run_cli(["character", "create", "Review Person", "--photos", *map(str, good)], env)
    assert made.returncode == 0, made.stderr
    page.reload()
    page.get_by_role("tab", name="Characters").wait_for()
    choose(page, "char-pick", "Review Person")
    thumbs = page.locator("#char-photos button.thumbnail-item")
    expect(thumbs).to_have_count(4)

    # the near-duplicate suggestion names its photo; one click selects it, one removes it; Undo
    suggestion = page.locator(".isg-suggestion").filter(has_text="near-duplicates")
    expect(suggestion).to_contain_text("warmer.webp")  # the later of the two near-identical photos
    page.locator("#char-select-box").get_by_text("Select several photos").click()
    suggestion.locator(".isg-suggest-select").click()
    expect(page.locator("#char-selected input[type=checkbox]:checked")).to_have_count(1)
    suggestion.locator(".isg-suggest-remove").click()
    expect(thumbs).to_have_count(3)
    expect(page.locator("#char-undo-text")).to_contain_text("Removed 1 photo.")
    page.shot("characters_removed_undo")
    page.click("#char-undo")
    expect(thumbs).to_have_count(4)
    expect(page.locator("#char-undo-box")).to_be_hidden()

    # select two by hand and remove them together, then bring them back
    boxes = page.locator("#char-selected input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#char-remove-selected")
    expect(thumbs).to_have_count(2)
    page.click("#char-undo")
    expect(thumbs).to_have_count(4)

    # the captions list: every photo with its caption; two edited, each saved on its row
    page.locator("#char-captions-view").get_by_text("All captions").click()
    rows = page.locator(".isg-caption-row")
    expect(rows).to_have_count(4)
    for index, words in ((0, "smiling in a space suit"), (2, "close-up, warm light")):
        row = rows.nth(index)
        row.locator("textarea, input[type=text]").first.fill(words)
        row.get_by_role("button", name="Save").click()
        expect(row).to_contain_text(re.compile("Saved|trigger word .* was added"))
    listed = run_cli(["character", "show", "Review Person", "--json"], env)
    assert "smiling in a space suit" in listed.stdout and "close-up, warm light" in listed.stdout
    page.shot("characters_captions_list")

    # auto-crop says what it did; a photo shows its original beside its crop; Undo goes back
    page.click("#char-crop")
    expect(page.locator("#char-crop-result")).to_contain_text("Cropped", timeout=60_000)
    expect(page.locator("#char-undo-text")).to_contain_text("Cropped")
    thumbs.first.click()
    expect(page.locator("#char-original img")).to_have_count(1)
    expect(page.locator("#char-crop-view img")).to_have_count(1)
    page.click("#char-undo")
    expect(page.locator("#char-undo-box")).to_be_hidden()
    assert page.page_errors == []
