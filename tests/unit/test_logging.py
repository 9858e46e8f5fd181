import json
from datetime import datetime, timedelta

from loguru import logger

from isengard.obs import event, redact, setup_logging, use_correlation
from isengard.obs.logsetup import archive_latest
from isengard.obs.redact import find_secrets, redact_mapping
from tests.helpers import read_log_lines

REQUIRED = {"timestamp", "level", "service", "correlation_id", "message", "event", "context"}


def test_lines_are_json_with_the_spec_fields(tmp_path):
    setup_logging(tmp_path, "DEBUG", console=False)
    with use_correlation("cid-123", service="api"):
        event("unit.test", "hello", answer=42)
    with use_correlation("cid-123", service="worker"):
        logger.bind(job_id="job-1").warning("from the worker")
    api, worker = read_log_lines(tmp_path, "api"), read_log_lines(tmp_path, "worker")
    assert [line["message"] for line in api] == ["hello"]
    assert set(api[0]) == REQUIRED
    assert api[0]["correlation_id"] == "cid-123" and api[0]["event"] == "unit.test"
    assert api[0]["context"] == {"answer": 42}
    assert worker[0]["service"] == "worker" and worker[0]["level"] == "WARNING"
    assert worker[0]["context"]["job_id"] == "job-1"
    datetime.fromisoformat(api[0]["timestamp"])


def test_line_without_bound_correlation_still_has_one(tmp_path):
    setup_logging(tmp_path, "INFO", console=False)
    event("startup", "no action bound")
    line = read_log_lines(tmp_path, "api")[0]
    assert line["correlation_id"].startswith("sys-")


def test_secrets_are_redacted_before_writing(tmp_path):
    setup_logging(tmp_path, "INFO", console=False)
    with use_correlation("c1"):
        event(
            "secret.test",
            "token hf_abcdefghijklmnopqrstu and sk-proj-ABCDEFGHIJ12 at /Users/alice/models?token=xyz123&a=1",
            hf_token="hf_zzzzzzzzzzzzzzzz",
            url="http://h/?password=hunter22",
            nested={"api_key": "secret-value"},
        )
    raw = (tmp_path / "api" / "latest" / "api.log").read_text()
    for secret in (
        "hf_abcdefghijklmnopqrstu",
        "sk-proj-ABCDEFGHIJ12",
        "alice",
        "xyz123",
        "hunter22",
        "hf_zzzzzzzzzzzzzzzz",
        "secret-value",
    ):
        assert secret not in raw
    assert find_secrets(raw) == []
    line = json.loads(raw)
    assert "hf_***" in line["message"] and "/Users/***/" in line["message"] and "token=***" in line["message"]


def test_redact_helpers():
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert redact("nothing secret here") == "nothing secret here"
    assert redact_mapping({"password": "x", "list": ["hf_aaaaaaaaaaaa"]}) == {
        "password": "***",
        "list": ["hf_***"],
    }
    assert find_secrets("leaked hf_aaaaaaaaaaaa") == ["hf_aaaaaaaaa…"]


def test_exceptions_are_logged_with_traceback(tmp_path):
    setup_logging(tmp_path, "INFO", console=False)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.bind(event="unit.crash").exception("it broke")
    line = read_log_lines(tmp_path, "api")[0]
    assert "ValueError: boom" in line["context"]["exception"]


def test_browser_service_goes_to_client_log(tmp_path):
    setup_logging(tmp_path, "INFO", console=False)
    with use_correlation("w1", service="web"):
        event("browser.error", "TypeError: x is undefined")
    assert read_log_lines(tmp_path, "web")[0]["service"] == "web"
    assert read_log_lines(tmp_path, "api") == []


def test_latest_is_archived_at_start_and_old_archives_pruned(tmp_path):
    setup_logging(tmp_path, "INFO", console=False)
    event("first.run", "first run")
    old = tmp_path / "api" / "archive" / "20200101_000000"
    old.mkdir(parents=True)
    recent_name = (datetime.now() - timedelta(days=2)).strftime("%Y%m%d_%H%M%S")
    (tmp_path / "api" / "archive" / recent_name).mkdir()
    setup_logging(tmp_path, "INFO", rotate=True, console=False)
    archives = sorted(p.name for p in (tmp_path / "api" / "archive").iterdir())
    assert "20200101_000000" not in archives  # older than 30 days: removed
    assert recent_name in archives
    moved = [p for p in (tmp_path / "api" / "archive").iterdir() if (p / "api.log").exists()]
    assert len(moved) == 1 and "first run" in (moved[0] / "api.log").read_text()
    assert read_log_lines(tmp_path, "api") == []  # latest/ starts empty
    assert (tmp_path / "worker" / "latest" / "subprocess").is_dir()


def test_two_starts_in_one_second_do_not_collide(tmp_path):
    now = datetime(2026, 1, 2, 3, 4, 5)
    for _ in range(2):
        (tmp_path / "api" / "latest").mkdir(parents=True, exist_ok=True)
        (tmp_path / "api" / "latest" / "api.log").write_text("{}\n")
        archive_latest(tmp_path, now)
    names = sorted(p.name for p in (tmp_path / "api" / "archive").iterdir())
    assert names == ["20260102_030405", "20260102_030405_1"]


def test_ui_actions_are_logged_and_quiet_ones_only_at_debug(tmp_path):
    from isengard.ui.actions import ui_action

    setup_logging(tmp_path, "DEBUG", console=False)

    @ui_action("unit.choose")
    def choose(value):
        return value * 2

    @ui_action("unit.timer", quiet=True)
    def tick():
        return "tick"

    assert choose(21) == 42 and tick() == "tick"
    levels = {
        (line["event"], line["context"]["action"]): line["level"] for line in read_log_lines(tmp_path, "api")
    }
    assert levels == {
        ("ui.action", "unit.choose"): "INFO",
        ("ui.action.done", "unit.choose"): "INFO",
        ("ui.action", "unit.timer"): "DEBUG",
        ("ui.action.done", "unit.timer"): "DEBUG",
    }


def test_a_generator_action_failing_is_resumed_in_another_thread_without_a_context_error(tmp_path):
    """Gradio resumes a generator handler on a worker thread of its choice: the failure's hint must come
    through there too (it once raised "created in a different Context", a bare "Error" toast on screen)."""
    import contextvars
    import threading

    from isengard.errors import InputError
    from isengard.ui.actions import ui_action

    setup_logging(tmp_path, "DEBUG", console=False)

    @ui_action("unit.follow")
    def follow(value):
        if not value:
            raise InputError("Drop one or more pictures first.")
        yield "working"

    for value in (None, "x"):
        gen = follow(value)
        got: list = []
        first = contextvars.Context().run(next, gen)  # each step in its own context, as in other threads
        got.append(first)
        errors: list = []

        def rest(g=gen, errors=errors, got=got):
            try:
                got.extend(g)
            except Exception as exc:
                errors.append(exc)

        done = threading.Thread(target=rest)
        done.start()
        done.join(5)
        assert errors == [] and got[0] is not None and not done.is_alive()


def test_configured_secrets_are_redacted_literally_whatever_their_shape():
    from isengard.obs.redact import redact, register_secrets

    register_secrets("plain words as a password!", "tok", None)  # too short values are not registered
    assert redact("user typed plain words as a password! by mistake") == "user typed *** by mistake"
    assert redact("a token is fine") == "a token is fine"


def test_line_separators_never_split_a_log_record():
    import json

    from isengard.obs.logsetup import one_json_line

    text = one_json_line({"message": "a\u2028b\u2029c\x85d\x0be\x1cf"})
    assert len(text.splitlines()) == 1 and json.loads(text)["message"] == "a\u2028b\u2029c\x85d\x0be\x1cf"
