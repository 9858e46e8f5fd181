"""The studio's file routes for workers without a shared disk: only signed requests, only inside the data
and scratch folders, never the secrets or the database, writes only into training runs and scratch, each
write whole or not at all."""

from __future__ import annotations

import types

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from isengard.jobs import worker_files
from isengard.paths import Paths
from tests.helpers import read_log_lines

TOKEN = "the-worker-token-0123456789abcdef"


@pytest.fixture
def client(tmp_path):
    from isengard.obs import setup_logging

    setup_logging(tmp_path / "logs", "DEBUG", console=False)
    paths = Paths(tmp_path / "data", tmp_path / "logs", tmp_path / "tmp")
    paths.ensure()
    (paths.uploads / "ada").mkdir(parents=True)
    (paths.uploads / "ada" / "one.png").write_bytes(b"photo")
    paths.secrets.mkdir(parents=True, exist_ok=True)
    (paths.secrets / "worker-token").write_text(TOKEN)
    paths.db.write_bytes(b"sqlite")
    app = Starlette(routes=worker_files.routes(types.SimpleNamespace(paths=paths), TOKEN))
    with TestClient(app) as test_client:
        test_client.paths = paths
        yield test_client


def _signed(method: str, path: str, token: str = TOKEN) -> dict[str, str]:
    return worker_files.signed_headers(token, method, path)


def test_a_signed_worker_reads_and_lists_the_data_folder(client):
    path = "/isengard/worker/file/data/uploads/ada/one.png"
    assert client.get(path, headers=_signed("GET", path)).content == b"photo"
    listing = "/isengard/worker/list/data/uploads/ada"
    assert client.get(listing, headers=_signed("GET", listing)).json() == {
        "kind": "dir",
        "files": [{"path": "one.png", "size": 5}],
    }


def test_an_unsigned_or_wrongly_signed_request_is_refused_and_logged_without_the_token(client, tmp_path):
    path = "/isengard/worker/file/data/uploads/ada/one.png"
    assert client.get(path).status_code == 401
    wrong = "another-token-0123456789abcdef"
    assert client.get(path, headers=_signed("GET", path, wrong)).status_code == 401
    stale = _signed("GET", path) | {"X-Isengard-Time": "1000"}  # an old request replayed
    assert client.get(path, headers=stale).status_code == 401
    lines = read_log_lines(tmp_path / "logs", "api")
    refused = [line for line in lines if line.get("event") == "worker.http_refused"]
    assert len(refused) == 3
    assert not any(TOKEN in str(line) or wrong in str(line) for line in lines)


@pytest.mark.parametrize(
    "where",
    ["data/../../etc/passwd", "data/secrets/worker-token", "data/isengard.db", "logs/api.log"],
)
def test_nothing_outside_or_private_is_served(client, where):
    path = f"/isengard/worker/file/{where}"
    assert client.get(path, headers=_signed("GET", path)).status_code in (403, 404)
    assert client.get(path, headers=_signed("GET", path)).status_code != 200


def test_writes_land_whole_and_only_in_runs_and_scratch(client):
    paths = client.paths
    path = "/isengard/worker/file/data/training/job-1/state/a_000010.pt"
    put = client.put(path, content=b"state" * 1000, headers=_signed("PUT", path))
    assert put.status_code == 204
    written = paths.training_runs / "job-1" / "state" / "a_000010.pt"
    assert written.read_bytes() == b"state" * 1000
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".tmp-")]
    for elsewhere in ("data/uploads/ada/one.png", "data/secrets/worker-token", "data/loras/x.safetensors"):
        target = f"/isengard/worker/file/{elsewhere}"
        assert client.put(target, content=b"x", headers=_signed("PUT", target)).status_code == 403
    assert (paths.uploads / "ada" / "one.png").read_bytes() == b"photo"


def test_a_hub_base_comes_to_the_worker_from_the_hub_and_the_studios_copy_only_when_the_hub_cannot(
    tmp_path, monkeypatch
):
    """A worker without the studio's disk: a base the studio downloaded from the Hub is downloaded by the
    worker itself (same repo and revision, into the same place of its own folder); offline, it is copied
    from the studio. The Hub is replaced by a test double that records the call and writes a file."""
    import huggingface_hub

    from isengard.models.manager import COMPLETE
    from plugins.base import ModelRef

    studio, here = tmp_path / "studio", tmp_path / "worker"
    mirror = worker_files.Mirror("http://studio.invalid", TOKEN, {"data": str(studio)}, {"data": here})
    ref = ModelRef(
        id="flux-dev",
        family="flux",
        source="black-forest-labs/FLUX.1-dev",
        local_path=studio / "models" / "flux-dev",
        sha256="0123abc",
    )
    calls = []

    def hub_double(repo, revision, local_dir, ignore_patterns):
        calls.append((repo, revision))
        (tmp_path / "worker" / "models" / "flux-dev").mkdir(parents=True, exist_ok=True)
        (tmp_path / "worker" / "models" / "flux-dev" / "model_index.json").write_text("{}")
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub_double)
    monkeypatch.setattr(mirror, "fetch", lambda path: pytest.fail(f"fetched {path} from the studio"))
    local = mirror.localize(ref)
    assert local.local_path == here.resolve() / "models" / "flux-dev" and calls == [(ref.source, "0123abc")]
    assert (local.local_path / COMPLETE).is_file()
    assert mirror.localize(ref).local_path == local.local_path and len(calls) == 1  # once: it is here

    def offline(**kwargs):
        raise OSError("no internet")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: offline())
    fetched = []
    monkeypatch.setattr(mirror, "fetch", fetched.append)
    other = ModelRef(
        id="sdxl", family="sdxl", source="owner/sdxl", local_path=studio / "models" / "sdxl", sha256="9"
    )
    assert mirror.localize(other).local_path == here.resolve() / "models" / "sdxl"
    assert fetched == [studio / "models" / "sdxl"]
    tiny = ModelRef(id="tiny-flux", family="flux", source="tiny:flux", local_path=studio / "models" / "t")
    mirror.localize(tiny)
    assert fetched[-1] == studio / "models" / "t"  # a test model, imported files: always the studio's
