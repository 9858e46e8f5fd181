"""Nothing is started that cannot run: a model that must be downloaded on a computer without internet or
without room, or a gated one without a token, is explained in the model list and refused before any job
(the tests run with HF_HUB_OFFLINE=1, so "offline" is the truth here)."""

from __future__ import annotations

import pytest

from isengard.errors import NotAvailableError
from isengard.models import preflight


@pytest.fixture
def prod(tmp_path):
    from isengard.context import bootstrap
    from tests.helpers import make_settings

    ctx = bootstrap(make_settings(tmp_path, mode="production"), console=False)
    ctx.characters.create("Ada")
    from tests.photos import good_set

    ctx.characters.add_photos("Ada", [(p, p.name) for p in good_set(tmp_path / "in")])
    yield ctx
    ctx.close()


def test_offline_the_list_says_so_and_train_explains_instead_of_starting(prod):
    turbo = prod.catalogue.get("zimage-turbo")
    assert prod.models.status(turbo) == "not downloaded, and this computer is offline"
    with pytest.raises(NotAvailableError, match="cannot reach the Hugging Face hub"):
        prod.training.submit("Ada", base_model="zimage-turbo", backend="diffusers")
    assert prod.runner.list() == []  # no job was started to fail a minute later


def test_too_little_room_on_the_data_disk_is_said_with_both_sizes(prod, monkeypatch):
    monkeypatch.setattr(preflight, "free_bytes", lambda folder: 12e9)
    monkeypatch.setattr(preflight, "hub_reachable", lambda: True)
    turbo = prod.catalogue.get("zimage-turbo")
    assert prod.models.status(turbo) == "needs a 21 GB download — 12 GB free"
    with pytest.raises(NotAvailableError, match="needs a 21 GB download and the data disk has 12 GB free"):
        prod.training.submit("Ada", base_model="zimage-turbo", backend="diffusers")
    assert prod.runner.list() == []


def test_room_and_a_connection_let_it_start_and_the_list_says_what_it_costs(prod, monkeypatch):
    monkeypatch.setattr(preflight, "free_bytes", lambda folder: 500e9)
    monkeypatch.setattr(preflight, "hub_reachable", lambda: True)
    turbo = prod.catalogue.get("zimage-turbo")
    assert prod.models.status(turbo) == "downloads on first use (21 GB; 500 GB free)"
    prod.models.ensure_can_start(turbo)  # nothing stops it


def test_a_gated_model_without_a_token_says_where_to_get_one(prod):
    flux = prod.catalogue.get("flux-dev")
    assert prod.models.status(flux) == "needs a Hugging Face token (Settings)"
    with pytest.raises(NotAvailableError, match=r"huggingface\.co/settings/tokens"):
        prod.models.ensure_can_start(flux)


def test_the_hub_check_is_offline_without_trying_and_cached_otherwise(monkeypatch):
    calls = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(preflight.socket, "create_connection", lambda *a, **k: calls.append(a))
    assert preflight.hub_reachable() is False and calls == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a closed port on this machine
    preflight._reach.clear()

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("refused")

    monkeypatch.setattr(preflight.socket, "create_connection", refuse)
    assert preflight.hub_reachable() is False and preflight.hub_reachable() is False
    assert len(calls) == 1  # asked once, then remembered for a minute
    preflight._reach.clear()
