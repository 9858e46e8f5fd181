"""Real browser: create a character, upload photos (one bad), see the rejection and readiness, edit a caption."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.ui.test_guided_studio_browser import error_badges

pytestmark = pytest.mark.browser


def _value(page, selector: str) -> str:
    return page.locator(f"{selector} textarea, {selector} input").first.input_value()


def test_character_flow(page, studio, tmp_path):
    page.get_by_role("tab", name="Characters").click()
    name_box = page.locator("#char-new-name textarea, #char-new-name input").first
    # "New character" starts open only while there are no characters; its header says which it is.
    header = page.locator("#char-new .label-wrap")
    header.wait_for()
    if "open" not in (header.get_attribute("class") or "").split():
        header.click()
    expect(name_box).to_be_visible()
    name_box.fill("Browser Person")
    name_box.press("Tab")
    page.wait_for_function(
        "() => { const el = document.querySelector('#char-new-trigger textarea, #char-new-trigger input');"
        " return el && el.value.length > 0; }"
    )
    trigger = _value(page, "#char-new-trigger")
    assert trigger.startswith("brw")
    page.click("#char-create")
    page.wait_for_selector("#char-name:has-text('Browser Person')")

    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list, not a photo")
    files = [
        *photos.good_set(tmp_path / "good")[:3],
        photos.bad_files(tmp_path / "bad")["text_as_jpg"],
        notes,
    ]
    page.locator("#char-upload input[type=file]").set_input_files([str(f) for f in files])
    summary = page.locator("#char-upload-summary")
    expect(summary).to_contain_text("3 photos added, 2 not added")  # every dropped file has its line
    expect(summary).to_contain_text("notes.jpg")
    expect(summary).to_contain_text("notes.txt")
    expect(summary).to_contain_text("not an image")
    assert error_badges(page) == []  # no red "Invalid file type" box
    page.wait_for_selector("#char-job .isg-progress[data-status=succeeded]", timeout=60_000)
    card = page.locator("#char-readiness-card")
    expect(card).to_have_attribute("data-status", "needs_attention")
    expect(card).to_contain_text("Add 7 more photos")
    expect(page.locator("#char-photos img")).to_have_count(3)

    page.locator("#char-photos button.thumbnail-item").first.click()
    page.wait_for_function(
        "() => { const el = document.querySelector('#char-caption textarea'); return el && el.value.length > 0; }"
    )
    assert _value(page, "#char-caption") == f"a photo of {trigger}, a person"
    expect(page.locator("#char-photo-detail")).to_contain_text("portrait.jpg")
    page.locator("#char-caption textarea").fill("smiling in an orange space suit")
    page.click("#char-save-caption")
    page.wait_for_function(
        "t => document.querySelector('#char-caption textarea').value.startsWith(t + ', smiling')", arg=trigger
    )
    page.shot("characters")

    # edit: an empty new name is a sentence beside the field; a real one renames; a new trigger word
    page.locator("#char-edit").get_by_text("Edit character").click()
    page.click("#char-rename-btn")
    expect(page.locator("#char-rename-hint")).to_contain_text("Give the character a name")
    page.locator("#char-rename textarea, #char-rename input").first.fill("Browser Person Two")
    page.click("#char-rename-btn")
    page.wait_for_selector("#char-name:has-text('Browser Person Two')")
    expect(page.locator("#char-rename-hint")).to_be_hidden()
    page.locator("#char-trigger textarea, #char-trigger input").first.fill("brwnewzx")
    page.click("#char-trigger-btn")
    expect(page.locator("#char-trigger-word")).to_have_text("brwnewzx")

    # delete: it says what goes first, then the person is gone
    page.locator("#char-delete-box").get_by_text("Delete character").click()
    page.click("#char-delete")
    expect(page.locator("#char-confirm-text")).to_contain_text("3 photos")
    page.click("#char-confirm-yes")
    expect(
        page.locator("[data-testid=toast-body]").filter(has_text="Deleted Browser Person Two")
    ).to_be_visible()
    expect(page.locator("#char-name:has-text('Browser Person Two')")).to_have_count(0)
    assert page.page_errors == []


def test_a_dropped_text_file_gets_its_line_on_a_phone(page, studio, tmp_path):
    """At 390 px: a file that is not a picture is named in the summary with why; no red box anywhere."""
    from tests.helpers import child_env, run_cli
    from tests.server_fixtures import choose

    made = run_cli(
        [
            "character",
            "create",
            "Phone Person",
            "--photos",
            *map(str, photos.good_set(tmp_path / "in")),
            "--no-check",
        ],
        child_env(studio.root),
    )
    assert made.returncode == 0, made.stderr
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.get_by_role("tab", name="Characters").click()
    choose(page, "char-pick", "Phone Person")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    page.locator("#char-upload input[type=file]").set_input_files([str(notes)])
    summary = page.locator("#char-upload-summary")
    expect(summary).to_contain_text("notes.txt")
    expect(summary).to_contain_text("not an image")
    assert error_badges(page) == []
    page.shot("characters-text-file-390")
