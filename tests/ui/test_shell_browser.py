"""Real browser: the studio shell — four tabs, the Video banner, the mode, system status, jobs panel."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_four_tabs_mode_and_video_banner(page, studio):
    # Gradio mounts the tab buttons a moment after the page itself: web-first assertions wait for them.
    tabs = page.get_by_role("tab")
    for index, name in enumerate(["Characters", "Training", "Image Gen", "Video"]):
        expect(tabs.nth(index)).to_have_text(name)
    expect(page.locator("#isg-mode")).to_contain_text("Test mode: pictures are placeholders")
    page.click("#isg-mode")  # the popover holds the technical facts
    expect(page.locator("#isg-mode-box")).to_contain_text("Processor: CPU")
    page.click("#isg-settings-open")
    expect(page.locator("#isg-data")).to_contain_text(str(studio.data_dir))
    page.get_by_role("tab", name="Video").click()
    expect(page.locator("#video-banner")).to_contain_text("In Development")
    expect(page.get_by_role("button", name="Generate video")).to_be_disabled()
    page.locator("#isg-system").get_by_text("System status").click()
    expect(page.locator("#isg-capabilities")).to_contain_text("DoRA training")
    page.shot("video")
    assert page.page_errors == []


def test_jobs_panel_lists_a_job_started_elsewhere(page, studio):
    from gradio_client import Client

    job_id = Client(studio.url, verbose=False).predict(prompt="from the api", api_name="/generate")["job_id"]
    page.click("#isg-settings-open")  # the jobs list, with its technical ids, lives in Settings
    page.locator("#isg-jobs").get_by_text("Jobs — everything").click()
    page.wait_for_function(
        "id => document.querySelector('#isg-jobs-table') && document.querySelector('#isg-jobs-table').innerText.includes(id)",
        arg=job_id,
        timeout=15000,
    )
