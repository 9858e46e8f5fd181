"""`--server URL` (or ISENGARD_SERVER): send a command's job to a running studio and follow it there, so
it starts warm — libraries imported, models loaded — instead of in a process of its own.

The studio is reached through its API with gradio_client, logged in with ISENGARD_AUTH (`user:password`,
the same login as the browser's) when it is set, under this command's correlation id. Output and exit
codes are those of a local run: the job's result on success, the job's own sentence and exit 6 when it
fails, the studio's sentence and exit 5 when it refuses the request.
"""

from __future__ import annotations

import os
import time
from typing import Any

from isengard.cli.common import info
from isengard.errors import InputError, JobFailedError, NotAvailableError, SettingsError
from isengard.obs import event
from isengard.obs.context import current_correlation_id

POLL_SECONDS = 0.2
TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")


class ServerUnreachableError(NotAvailableError):
    """The studio named by --server or ISENGARD_SERVER does not answer."""


def server_url(args) -> str | None:
    return (getattr(args, "server", None) or os.environ.get("ISENGARD_SERVER", "")).strip() or None


def add_server_argument(parser) -> None:
    parser.add_argument(
        "--server",
        metavar="URL",
        help="run the job in a running studio (e.g. http://127.0.0.1:7860/); also ISENGARD_SERVER",
    )


def with_paths(value: Any) -> Any:
    """The API names file locations "file" (Gradio would fetch a "path"); a local run says "path"."""
    if isinstance(value, dict):
        return {("path" if key == "file" else key): with_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_paths(item) for item in value]
    return value


def log_here() -> None:
    """This command's own JSON logs (no local database or data folder is needed to drive a studio)."""
    from isengard.obs import setup_logging
    from isengard.obs.redact import register_secrets
    from isengard.settings import Settings

    settings = Settings.from_env()
    setup_logging(settings.log_dir, settings.log_level, console_level="ERROR")
    register_secrets(settings.auth[1] if settings.auth else None, settings.hf_token)


class Studio:
    def __init__(self, url: str):
        from gradio_client import Client

        log_here()
        raw = os.environ.get("ISENGARD_AUTH", "")
        auth = tuple(raw.split(":", 1)) if ":" in raw else None
        self.url = url
        event("cli.remote_connect", f"connecting to {url}", url=url, login=bool(auth))
        try:
            self.client = Client(
                url, auth=auth, verbose=False, headers={"X-Correlation-ID": current_correlation_id()}
            )
        except Exception as exc:
            text = str(exc).lower()
            if auth and ("invalid credentials" in text or "could not login" in text):
                event("cli.remote_login_refused", f"{url}: {exc!r}", level="WARNING", url=url)
                raise SettingsError(
                    f"The studio at {url} did not accept the login in ISENGARD_AUTH.",
                    hint="Use the same user:password as for the studio's login page.",
                ) from None
            if not auth and ("401" in text or "login" in text or "unauthorized" in text):
                event("cli.remote_login_needed", f"{url}: {exc!r}", level="WARNING", url=url)
                raise SettingsError(
                    f"The studio at {url} asks for a login.",
                    hint="Set ISENGARD_AUTH=user:password for this command, as you log in in the browser.",
                ) from None
            event("cli.remote_unreachable", f"{url}: {exc!r}", level="WARNING", url=url)
            raise ServerUnreachableError(
                f"Could not reach the studio at {url}.",
                hint="Is it running (python app.py), and is the address right? With a login, set ISENGARD_AUTH.",
            ) from None

    def call(self, endpoint: str, **kwargs: Any) -> Any:
        from gradio_client.exceptions import AppError

        try:
            return self.client.predict(api_name=f"/{endpoint}", **kwargs)
        except AppError as exc:  # the studio's own sentence (a bad value, an unknown character, …)
            raise InputError(str(exc).strip() or f"The studio refused /{endpoint}.") from None
        except Exception as exc:
            event("cli.remote_failed", f"/{endpoint}: {exc!r}", level="WARNING", url=self.url)
            raise ServerUnreachableError(f"The studio at {self.url} stopped answering ({exc}).") from None

    def follow(self, job_id: str, *, quiet: bool = False) -> dict[str, Any]:
        """Print a progress line per change on stderr until the job ends; return its final record."""
        last_line, last_message = "", None
        while True:
            job = self.call("job", job_id=job_id)
            progress = job.get("progress") or {}
            if not quiet:
                message = progress.get("message")
                if message and message != last_message:
                    info(f"  {message}")
                    last_message = message
                line = remote_progress_line(job)
                if line != last_line:
                    info(line)
                    last_line = line
            if job.get("status") in TERMINAL:
                return with_paths(job)
            time.sleep(POLL_SECONDS)


def remote_progress_line(job: dict[str, Any]) -> str:
    p = job.get("progress") or {}
    parts = [f"[{job.get('status')}]", job.get("title", "")]
    if p.get("step") is not None and p.get("total"):
        parts.append(f"{p['step']}/{p['total']}")
    if p.get("loss") is not None:
        parts.append(f"loss {p['loss']:.4f}")
    if job.get("error") and job.get("status") in TERMINAL:
        parts.append(f"— {job['error']}")
    return " ".join(parts)


def finished(job: dict[str, Any], what: str, *, with_id: bool = False) -> dict[str, Any]:
    """The job's result, or the same failure a local run reports."""
    if job.get("status") != "succeeded":
        raise JobFailedError(
            f"{what} {job.get('status')}: {job.get('error') or 'no details'}",
            hint=f"Job id: {job.get('id')}" if with_id else None,
        )
    return job.get("result") or {}
