"""Real browser: the studio shell — four tabs, the Video banner, the mode, system status, jobs panel."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_four_tabs_mode_and_video_banner(page, studio):
    tabs = [t.inner_text().strip() for t in page.get_by_role("tab").all()]
    assert tabs[:4] == ["Characters", "Training", "Image Gen", "Video"]
    assert page.locator("#isg-mode").inner_text() == "Fast-test mode"
    assert "CPU" in page.locator("#isg-device").inner_text()
    assert str(studio.data_dir) in page.locator("#isg-data").inner_text()
    page.get_by_role("tab", name="Video").click()
    banner = page.locator("#video-banner")
    assert "In Development" in banner.inner_text()
    button = page.get_by_role("button", name="Generate video")
    assert button.is_disabled()
    page.locator("#isg-system").get_by_text("System status").click()
    assert "DoRA training" in page.locator("#isg-capabilities").inner_text()
    page.shot("video")
    assert page.page_errors == []


def test_jobs_panel_lists_a_job_started_elsewhere(page, studio):
    from gradio_client import Client

    job_id = Client(studio.url, verbose=False).predict(prompt="from the api", api_name="/generate")["job_id"]
    page.locator("#isg-jobs").get_by_text("Jobs — everything").click()
    page.wait_for_function(
        "id => document.querySelector('#isg-jobs-table') && document.querySelector('#isg-jobs-table').innerText.includes(id)",
        arg=job_id,
        timeout=15000,
    )
