"""Scripts drive the warm studio: the whole loop (create → photos → check → caption → train → generate)
through gradio_client against a running `python app.py`, in fast-test and in production mode on the
tiny models; and `python -m isengard … --server URL` runs its job there and reports like a local run."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests import photos
from tests.helpers import child_env, free_port, install_tiny, run_cli
from tests.server_fixtures import start_studio, stop_studio


def _wait(client, job_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.predict(job_id=job_id, api_name="/job"))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    return job


@pytest.fixture(scope="module")
def fast_studio(tmp_path_factory):
    studio = start_studio(tmp_path_factory.mktemp("api-fast"))
    yield studio
    stop_studio(studio)


@pytest.fixture(scope="module")
def production_studio(tmp_path_factory, tiny_models):
    root = tmp_path_factory.mktemp("api-production")
    install_tiny(root / "data", "sd15", tiny_models)
    studio = start_studio(root, ISENGARD_MODE="production")
    yield studio
    stop_studio(studio)


def _whole_loop(studio, tmp_path, name: str, base: str, settings: dict) -> dict:
    from gradio_client import Client, handle_file

    client = Client(studio.url, verbose=False)
    created = client.predict(name=name, api_name="/create_character")
    assert created["name"] == name and created["trigger_word"]
    files = photos.good_set(tmp_path / "in")
    added = client.predict(
        character=name,
        photos=[handle_file(str(p)) for p in files] + [{"path": "/etc/hostname", "orig_name": "hostname"}],
        api_name="/add_photos",
    )
    assert len(added["added"]) == len(files)
    assert added["rejected"] == [
        {
            "name": "hostname",
            "reason": "it was not uploaded through the API (send it with gradio_client's handle_file)",
        }
    ]  # a file already on the server is never read on an API caller's say-so
    assert (
        _wait(client, client.predict(character=name, api_name="/check_photos")["job_id"])["status"]
        == "succeeded"
    )
    captioned = _wait(client, client.predict(character=name, api_name="/caption_photos")["job_id"])
    assert captioned["status"] == "succeeded"
    report = client.predict(character=name, api_name="/photo_report")
    assert len(report["photos"]) == len(files) and report["readiness"]["headline"]
    assert all(created["trigger_word"] in p["caption"] for p in report["photos"])
    queued = client.predict(character=name, base_model=base, settings=settings, api_name="/train")
    trained = _wait(client, queued["job_id"])
    assert trained["status"] == "succeeded", trained["error"]
    assert trained["result"]["steps"] == settings["steps"]
    lora = client.predict(character=name, api_name="/loras")[0]
    generated = client.predict(
        prompt="portrait by a window", character=name, base_model=base, api_name="/generate"
    )
    made = _wait(client, generated["job_id"])
    assert made["status"] == "succeeded", made["error"]
    assert made["result"]["images"][0]["file"].endswith(".png")
    return {"lora": lora, "generation": made, "client": client}


def test_a_script_runs_the_whole_loop_in_fast_test_mode(fast_studio, tmp_path):
    done = _whole_loop(fast_studio, tmp_path, "Api Fast", "flux-dev", {"steps": 20, "save_every": 10})
    assert done["lora"]["trigger_word"] == done["client"].predict(api_name="/characters")[0]["trigger_word"]
    bad = done["client"]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Training steps must be"):
        bad.predict(character="Api Fast", settings={"steps": 0}, api_name="/train")
    with pytest.raises(AppError, match="Training steps must be a number, not the text '10'"):
        bad.predict(character="Api Fast", settings={"steps": "10"}, api_name="/train")
    with pytest.raises(AppError, match="There is no character 'Nobody'"):
        bad.predict(character="Nobody", api_name="/train")
    with pytest.raises(AppError, match="There is no job nope"):
        bad.predict(job_id="nope", api_name="/job")
    assert "Traceback" not in fast_studio.output()  # ordinary mistakes: a log line, not a traceback


@pytest.mark.slow
def test_a_script_runs_the_whole_loop_on_the_tiny_models(production_studio, tmp_path):
    settings = {"steps": 6, "resolution": 64, "save_every": 3, "sample_every": 0}
    done = _whole_loop(production_studio, tmp_path, "Api Real", "tiny-sd15", settings)
    from plugins.lora_format import read_lora_info

    info = read_lora_info(done["lora"]["file"])
    assert info.family == "sd15" and info.metadata.get("isengard_mock") is None  # trained for real
    env = child_env(production_studio.root, ISENGARD_MODE="production")
    job_id = done["lora"]["job_id"]
    events = json.loads(run_cli(["jobs", "show", job_id, "--json"], env).stdout)["events"]
    said = [e["data"].get("message") for e in events if e["type"] == "progress"]
    assert "Loading the training libraries (once per start)" in said  # the studio's first training


# --- the CLI's --server ------------------------------------------------------------------------------------


def _character(env, tmp_path, name: str) -> None:
    files = [str(p) for p in photos.good_set(tmp_path / "in")]
    assert run_cli(["character", "create", name, "--photos", *files, "--no-check"], env).returncode == 0


def test_cli_server_runs_the_job_in_the_studio_and_follows_it(fast_studio, tmp_path):
    studio_env = child_env(fast_studio.root)  # the studio's own data folder
    _character(studio_env, tmp_path, "Remote Person")
    env = child_env(tmp_path / "elsewhere", ISENGARD_SERVER=fast_studio.url)  # a CLI with no data of its own
    trained = run_cli(["train", "Remote Person", "--base", "flux-dev", "--steps", "12", "--json"], env)
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)
    assert result["lora_path"].startswith(str(fast_studio.data_dir)) and result["steps"] == 12
    assert "12/12" in run_cli(["train", "Remote Person", "--base", "flux-dev", "--steps", "12"], env).stderr
    listed = json.loads(run_cli(["jobs", "list", "--json"], studio_env).stdout)["jobs"]
    assert result["job_id"] in {j["id"] for j in listed}  # it ran in the studio, not here
    assert not (tmp_path / "elsewhere" / "data" / "models" / "loras").exists()

    made = run_cli(["generate", "--prompt", "a portrait", "--character", "Remote Person", "--json"], env)
    assert made.returncode == 0, made.stderr
    images = json.loads(made.stdout)["images"]
    assert images and images[0]["path"].startswith(str(fast_studio.data_dir))  # "path", as a local run says

    refused = run_cli(["train", "Nobody", "--base", "flux-dev", "--server", fast_studio.url, "--json"], env)
    assert refused.returncode == 5 and "There is no character 'Nobody'." in refused.stderr
    assert json.loads(refused.stdout)["exit_code"] == 5
    gone = run_cli(["train", "X", "--base", "flux-dev", "--server", f"http://127.0.0.1:{free_port()}/"], env)
    assert gone.returncode == 7 and "Could not reach the studio" in gone.stderr


def test_cli_server_reports_a_failed_job_like_a_local_run(fast_studio, tmp_path):
    studio_env = child_env(fast_studio.root)
    _character(studio_env, tmp_path, "Failing Person")
    runs = fast_studio.data_dir / "training"
    moved = runs.with_name("training.moved")
    runs.rename(moved)
    runs.write_text("not a folder")  # every training's run folder now fails to be made: the job fails
    try:
        env = child_env(tmp_path / "elsewhere", ISENGARD_SERVER=fast_studio.url)
        remote = run_cli(["train", "Failing Person", "--base", "flux-dev", "--steps", "5", "--json"], env)
    finally:
        runs.unlink()
        moved.rename(runs)
    assert remote.returncode == 6, remote.stderr
    failure = json.loads(remote.stdout)
    assert failure["exit_code"] == 6 and failure["command"] == "train"
    assert remote.stderr.startswith("error: Training failed: ") and "Job id: train-" in remote.stderr
    job_id = remote.stderr.rsplit("Job id: ", 1)[1].strip().rstrip(".")
    job = json.loads(run_cli(["jobs", "show", job_id, "--json"], studio_env).stdout)["job"]
    assert job["status"] == "failed" and job["error"] in remote.stderr  # the studio's own reason, verbatim
    assert "a file where a folder should be" in job["error"] and str(runs) not in job["error"]
    shutil.rmtree(tmp_path / "elsewhere", ignore_errors=True)


def test_cli_server_logs_in_like_the_browser(tmp_path):
    login = "scripter:correct-horse-battery"
    studio = start_studio(tmp_path / "locked", ISENGARD_AUTH=login)
    try:
        _character(child_env(tmp_path / "locked", ISENGARD_AUTH=login), tmp_path, "Locked Person")
        args = ["train", "Locked Person", "--base", "flux-dev", "--steps", "3", "--server", studio.url]
        ok = run_cli(args, child_env(tmp_path / "cli", ISENGARD_AUTH=login))
        assert ok.returncode == 0, ok.stderr
        wrong = run_cli(args, child_env(tmp_path / "cli", ISENGARD_AUTH="scripter:not-the-password"))
        assert wrong.returncode == 2 and "did not accept the login in ISENGARD_AUTH" in wrong.stderr
        none = run_cli(args, child_env(tmp_path / "cli"))
        assert none.returncode == 2 and "asks for a login" in none.stderr, none.stderr
        assert "not-the-password" not in "".join(
            p.read_text() for p in (tmp_path / "cli" / "logs").rglob("*.log")
        )
    finally:
        stop_studio(studio)
