"""What travels between the studio and its workers is signed and versioned: a forged, altered or foreign
message is refused before anything in it is loaded."""

from __future__ import annotations

import json

import pytest

from isengard.jobs import wire
from plugins.training.interface import DatasetItem

TOKEN = "a-studio-token-0123456789abcdef"


def test_a_sealed_message_opens_with_the_same_token():
    body = [DatasetItem(image="/data/a.png", caption="ohwx person")]
    head, opened = wire.open_sealed(TOKEN, wire.seal(TOKEN, {"job": "train-1"}, body))
    assert head["job"] == "train-1" and head["version"] == wire.VERSION
    assert opened == body


@pytest.mark.parametrize("change", ["token", "body", "head", "version", "shape"])
def test_anything_changed_is_refused(change):
    sealed = wire.seal(TOKEN, {"job": "train-1"}, {"steps": 10})
    token = TOKEN
    if change == "token":
        token = "another-token-0123456789abcdef"
    elif change == "body":
        sealed["body"] = wire.seal(TOKEN, {"job": "train-1"}, {"steps": 99})["body"]
    elif change == "head":
        sealed["head"] = sealed["head"].replace("train-1", "train-2")
    elif change == "version":
        head = json.loads(sealed["head"]) | {"version": "0.0.9+wire0"}
        sealed = {"head": json.dumps(head, sort_keys=True), "body": sealed["body"]}
        sealed["sig"] = wire._signature(TOKEN, [sealed["head"], sealed["body"]])
    else:
        sealed = {"what": "else"}
    with pytest.raises(wire.WireError) as refused:
        wire.open_sealed(token, sealed)
    if change == "version":
        assert "run the same version on the studio and every worker" in str(refused.value)


def test_the_token_is_made_once_and_kept_private(tmp_path):
    made = wire.load_token(None, tmp_path, create=True)
    assert len(made) >= 32 and wire.load_token(None, tmp_path, create=False) == made
    assert (wire.token_file(tmp_path).stat().st_mode & 0o777) == 0o600
    assert wire.load_token("from-the-environment-123", tmp_path, create=True) == "from-the-environment-123"
    assert wire.token_proof(made) != made and made not in wire.token_proof(made)
