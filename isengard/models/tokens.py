"""The Hugging Face token: from HF_TOKEN, or pasted in the Settings panel and kept in the data folder with
owner-only permissions. Shown masked, checked against the hub with a clear verdict, never logged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from isengard.errors import InputError
from isengard.obs import event
from isengard.obs.redact import register_secrets
from isengard.storage.files import atomic_write_text

TOKEN_RE = re.compile(r"^hf_[A-Za-z0-9]{20,}$")


@dataclass
class Verdict:
    ok: bool
    message: str


def mask(token: str | None) -> str:
    if not token:
        return "not set"
    return f"{token[:3]}…{token[-4:]}"


class TokenStore:
    def __init__(self, secrets_dir: Path, env_token: str | None):
        self.file = Path(secrets_dir) / "hf_token"
        self.env_token = env_token
        register_secrets(env_token)

    def get(self) -> str | None:
        if self.env_token:
            return self.env_token
        token = self._stored()
        if token:
            register_secrets(token)
        return token

    def _stored(self) -> str | None:
        if self.file.exists():
            return self.file.read_text(encoding="utf-8").strip() or None
        return None

    @property
    def source(self) -> str:
        if self.env_token:
            return "the HF_TOKEN environment variable"
        return "the Settings panel" if self.file.exists() else "nowhere"

    def set(self, token: str) -> str:
        token = (token or "").strip()
        if not TOKEN_RE.match(token):
            raise InputError(
                "That does not look like a Hugging Face token (they start with hf_ and are about 37 characters).",
                hint="Create one at https://huggingface.co/settings/tokens (read access is enough).",
            )
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.parent.chmod(0o700)
        atomic_write_text(self.file, token + "\n", permissions=0o600)
        register_secrets(token)
        event("settings.token_saved", "Hugging Face token saved", masked=mask(token))
        return mask(token)

    def clear(self) -> None:
        self.file.unlink(missing_ok=True)
        event("settings.token_cleared", "Hugging Face token removed")

    def check(self, repo_id: str | None = None) -> Verdict:
        """Ask the hub who the token belongs to (and, if given, whether it may read `repo_id`)."""
        token = self.get()
        if not token:
            return Verdict(False, "No token is set. Paste one from https://huggingface.co/settings/tokens.")
        try:
            from huggingface_hub import HfApi

            api = HfApi()
            who = api.whoami(token=token)
            name = who.get("name", "?")
            if repo_id:
                api.auth_check(repo_id, token=token)
                return Verdict(True, f"Valid token for {name}, with access to {repo_id}.")
            return Verdict(True, f"Valid token for {name}.")
        except Exception as exc:  # the hub's errors: classify them into one sentence
            return Verdict(False, hub_error_message(exc, repo_id))


def hub_error_message(exc: Exception, repo_id: str | None) -> str:
    text = f"{type(exc).__name__}: {exc}"
    name = type(exc).__name__
    if name == "GatedRepoError" or "gated" in text.lower() or "403" in text:
        return (
            f"Your token cannot open {repo_id}: accept its licence at https://huggingface.co/{repo_id} "
            "while logged in, then try again."
        )
    if "401" in text or name in ("LocalTokenNotFoundError",) or "Invalid user token" in text:
        return "Hugging Face does not accept this token (401). Create a new one and paste it again."
    if name == "RepositoryNotFoundError" or "404" in text:
        return f"{repo_id} was not found on Hugging Face (or your token cannot see it)."
    if (
        "offline" in text.lower()
        or name in ("OfflineModeIsEnabled", "ConnectionError", "ConnectError")
        or any(word in text for word in ("Connection", "resolve", "timed out", "Network"))
    ):
        return "Could not reach huggingface.co (no internet, or offline mode is on)."
    return f"The Hugging Face check failed: {exc}"
