"""Real browser: sharing a LoRA on Hugging Face from the library (private by default, the upload followed
where the person is looking, consent asked before public) at 1400 px, and bringing one in by its repo name
on a phone (several files: pick one). The Hub is the local stand-in (tests/fake_hub.py); the studio reaches it
through HF_ENDPOINT with Xet off and offline mode lifted — nothing leaves the machine."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.fake_hub import FakeHub
from tests.helpers import child_env, cli_person, run_cli
from tests.server_fixtures import choose, open_page, start_studio, stop_studio

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub_studio(tmp_path_factory):
    hub = FakeHub().start()
    root = tmp_path_factory.mktemp("hub-studio")
    env = {
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": "hf_write_ada",
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",
    }
    studio = start_studio(root, **env)
    cli_person(root, "Hub Person", root / "photos", "--no-check")
    trained = run_cli(["train", "Hub Person", "--base", "flux-dev", "--steps", "20"], child_env(root, **env))
    assert trained.returncode == 0, trained.stderr
    yield studio, hub
    stop_studio(studio)
    hub.stop()


def test_publish_from_the_library_privately_then_public_asks_for_consent(browser, hub_studio):
    studio, hub = hub_studio
    with open_page(browser, studio) as page:
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Hub Person")
        page.wait_for_selector("#train-readiness [data-status]")
        expect(page.locator("#lib-card")).to_contain_text("Hub Person — ")
        page.locator("#hub-publish-box").get_by_text("Share on Hugging Face").click()
        page.locator("#hub-repo input, #hub-repo textarea").first.fill("hub-person-lora")
        page.click("#hub-publish")
        done = page.locator("#hub-published")
        expect(done).to_contain_text("Published to ada/hub-person-lora", timeout=60_000)
        expect(done).to_contain_text("private — only you can see it")
        assert (
            hub.repos["ada/hub-person-lora"].private and "README.md" in hub.repos["ada/hub-person-lora"].files
        )
        page.shot("hub-published-1400")
        page.locator("#hub-public input").check()
        expect(page.locator("#hub-consent")).to_be_visible()
        page.locator("#hub-repo input, #hub-repo textarea").first.fill("hub-person-public")
        page.click("#hub-publish")
        expect(page.locator("#hub-consent-hint")).to_contain_text(
            "tick that they agreed first", timeout=30_000
        )
        assert "ada/hub-person-public" not in hub.repos  # nothing was made public without consent
        page.shot("hub-consent-1400")
        page.locator("#hub-consent input").check()
        page.click("#hub-publish")
        expect(page.locator("#hub-published")).to_contain_text("(public)", timeout=60_000)
        assert not hub.repos["ada/hub-person-public"].private
        assert page.page_errors == []


def test_bring_a_lora_in_by_repo_name_on_a_phone(browser, hub_studio):
    studio, hub = hub_studio
    lora = next((studio.root / "data" / "models" / "loras").rglob("*.safetensors")).read_bytes()
    hub.add_repo(
        "carol/faces", {"soft.safetensors": lora, "sharp.safetensors": lora + b"", "README.md": b"x"}
    )
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": 390, "height": 900})
        page.get_by_role("tab", name="Training").click()
        source = page.locator("#hub-import-repo input, #hub-import-repo textarea").first
        source.scroll_into_view_if_needed()
        source.fill("carol/faces")
        page.click("#hub-import")
        expect(page.locator("#hub-import-hint")).to_contain_text("carol/faces holds 2 LoRA files: pick one")
        expect(page.locator("#hub-import-file")).to_be_visible()
        page.shot("hub-import-pick-390")
        page.locator("#hub-import-file input").click()
        page.get_by_role("option").filter(has_text="sharp.safetensors").click()
        page.click("#hub-import")
        expect(page.locator("#train-pick-lora input")).to_have_value(
            re.compile("faces-sharp"), timeout=30_000
        )
        expect(page.locator("#hub-import-file")).to_be_hidden()
        page.shot("hub-imported-390")
        assert page.page_errors == []
