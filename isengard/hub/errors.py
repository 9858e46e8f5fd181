"""What a failed Hub call means, in one sentence a person can act on (the details go to the log)."""

from __future__ import annotations

from isengard.errors import IsengardError


class PublishError(IsengardError):
    """A publish or import that the Hub refused or could not finish; nothing was half-published."""


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def publish_sentence(exc: BaseException, repo: str) -> str:
    status, text = _status(exc), f"{type(exc).__name__}: {exc}"
    if type(exc).__name__ in ("OfflineModeIsEnabled",) or any(
        word in text
        for word in ("ConnectError", "ConnectionError", "Connection refused", "timed out", "Network")
    ):
        return "Could not reach the Hugging Face Hub (no internet?): nothing was published; try again later."
    if "LFS batch endpoint returned errors" in text or status == 413 or "too large" in text.lower():
        return (
            "The Hub refused the upload as too large for your account: nothing was published. Check your "
            "storage on huggingface.co, or publish a smaller checkpoint."
        )
    if status == 401:
        return "Hugging Face does not accept your token: paste a new one with write access in Settings."
    if status == 403 and "namespace" in text:
        owner = repo.split("/")[0] if "/" in repo else "that account"
        return (
            f"The name {repo} belongs to {owner}, not to you: choose a name of your own (without the '{owner}/' "
            "part, it goes under your account)."
        )
    if status == 403:
        return (
            "The upload broke off (the Hub refused a file part-way): nothing was published. Publish again to "
            "finish; what already went up is not sent twice."
        )
    return f"Publishing stopped ({text[:160]}): nothing was published. Publish again to retry."
