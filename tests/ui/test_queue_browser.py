"""Real browser: pictures asked for while a training runs say where they are in line and on what, and
"make these first" pauses the training, makes them, and lets the training carry on by itself."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.helpers import child_env, run_cli
from tests.server_fixtures import choose, open_page, start_studio, stop_studio

pytestmark = pytest.mark.browser


def test_generation_behind_a_training_can_go_first(browser, tmp_path):
    studio = start_studio(tmp_path / "slow", command=["-m", "tests.slow_training_studio"])
    try:
        env = child_env(studio.root)
        good = photos.good_set(tmp_path / "in")
        made = run_cli(
            ["character", "create", "Queue Person", "--photos", *map(str, good), "--no-check"], env
        )
        assert made.returncode == 0, made.stderr
        with open_page(browser, studio) as page:
            page.get_by_role("tab", name="Training").click()
            choose(page, "train-character", "Queue Person")
            steps = page.locator("#param-steps input")
            steps.fill("800")
            steps.press("Tab")
            page.click("#train-start")
            expect(page.locator("#isg-activity")).to_contain_text("Training Queue Person", timeout=20_000)

            page.get_by_role("tab", name="Image Gen").click()
            page.locator("#gen-prompt textarea").fill("a boat on a lake")
            page.click("#gen-go")
            queue = page.locator("#gen-queue")
            expect(queue).to_contain_text("Training Queue Person is using the computer", timeout=20_000)
            expect(queue).to_contain_text("You are next")
            page.shot("image_gen_queued")
            page.click("#gen-go-first")
            expect(page.locator("#gen-gallery img")).to_have_count(1, timeout=60_000)
            expect(page.locator("#gen-go-first")).to_be_hidden()
            # the training stepped aside and carries on by itself, from its checkpoint
            expect(page.locator("#isg-activity")).to_contain_text("Training Queue Person", timeout=30_000)
            listed = run_cli(["jobs", "list", "--json"], env)
            assert listed.returncode == 0, listed.stderr
            training = next(j for j in json.loads(listed.stdout)["jobs"] if j["kind"] == "train")
            assert training["attempts"] >= 2 and training["status"] in ("queued", "running", "succeeded")
            assert page.page_errors == []
    finally:
        stop_studio(studio)
