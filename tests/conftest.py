"""Shared fixtures. Tests never touch the network or the Hugging Face hub (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["DO_NOT_TRACK"] = "1"
for _var in (
    "ISENGARD_MODE",
    "DATA_DIR",
    "LOG_DIR",
    "TMP_DIR",
    "HOST",
    "PORT",
    "API_PORT",
    "ISENGARD_AUTH",
    "COMFYUI_URL",
    "AI_TOOLKIT_DIR",
    "HF_TOKEN",
    "ISENGARD_SHARE",
):
    os.environ.pop(_var, None)

import pytest  # noqa: E402

from tests.helpers import make_settings  # noqa: E402

pytest_plugins = ["tests.server_fixtures", "tests.redis_fixtures"]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """One folder per test session where tiny offline models are built once and reused."""
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def app_ctx(settings):
    from isengard.context import bootstrap

    ctx = bootstrap(settings, console=False)
    yield ctx
    ctx.close()
