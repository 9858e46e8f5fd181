"""`--json` failures are the same everywhere: the JSON object with its error on stdout, the sentence on
stderr, and the documented exit code."""

from __future__ import annotations

import json

import pytest

from tests.helpers import child_env, run_cli


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("json-failures")
    env = child_env(root)
    notes = root / "notes.jpg"
    notes.write_text("not a photo")
    env["_NOTES"] = str(notes)
    assert run_cli(["character", "create", "No Photos"], env).returncode == 0
    return env


CASES = [
    (["character", "create", "a/b", "--json"], 5, "Names can't contain"),
    (["character", "show", "Nobody", "--json"], 5, "There is no character 'Nobody'"),
    (
        ["character", "create", "All Bad", "--photos", "{notes}", "--json"],
        5,
        "None of the 1 file(s) could be added",
    ),
    (["train", "No Photos", "--base", "flux-dev", "--json"], 5, "has no photos yet"),
    (["train", "Nobody", "--base", "flux-dev", "--json"], 5, "There is no character"),
    (["generate", "--prompt", "x", "--steps", "0", "--json"], 5, "Steps must be a whole number"),
    (["jobs", "show", "job-that-is-not", "--json"], 5, "There is no job"),
    (["evaluate", "No Photos", "--json"], 5, "has no trained LoRA yet"),
    (["models", "download", "no-such-model", "--json"], 5, "no-such-model"),
    (["recover", "--backup", "latest", "--json"], 5, "no database backups"),
]


@pytest.mark.parametrize(("args", "code", "words"), CASES, ids=[" ".join(c[0][:2]) for c in CASES])
def test_a_failing_json_command_says_it_on_both_streams(env, args, code, words):
    args = [a.replace("{notes}", env["_NOTES"]) for a in args]
    result = run_cli(args, env)
    assert result.returncode == code, (args, result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert words in data["error"], data
    assert f"error: {data['error']}" in result.stderr and "Traceback" not in result.stderr
