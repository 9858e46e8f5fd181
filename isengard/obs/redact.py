"""Remove secrets before anything is written: tokens, keys, passwords, user home paths."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"hf_[A-Za-z0-9]{6,}"), "hf_***"),
    (re.compile(r"sk-[A-Za-z0-9_\-]{6,}"), "sk-***"),
    (re.compile(r"/Users/[^/\s\"']+/"), "/Users/***/"),
    (re.compile(r"(?i)\b(token|password|passwd|secret|api_key)=([^\s&\"',;]+)"), r"\1=***"),
    (re.compile(r"(?i)(authorization:\s*bearer\s+)[^\s\"']+"), r"\1***"),
]
_SECRET_KEYS = re.compile(r"(?i)(token|password|passwd|secret|api_key|authorization)")
_literal: list[str] = []  # configured secrets (login password, HF token), removed wherever they appear
MIN_LITERAL = 4  # shorter values would blank out ordinary words


def register_secrets(*values: str | None) -> None:
    """Redact these exact values from every log line from now on, whatever their shape."""
    for value in values:
        if value and len(value) >= MIN_LITERAL and value not in _literal:
            _literal.append(value)
    _literal.sort(key=len, reverse=True)  # the longest first, so a secret inside another goes whole


def redact(text: str) -> str:
    for secret in _literal:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return redact_mapping(value)
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def redact_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if _SECRET_KEYS.search(str(key)) and isinstance(value, str) and value:
            out[str(key)] = "***"
        else:
            out[str(key)] = redact_value(value)
    return out


def find_secrets(text: str) -> list[str]:
    """Secrets that `redact` would have removed (used by scripts/validate_logs.py)."""
    found = []
    for pattern, replacement in _PATTERNS:
        for match in pattern.finditer(text):
            if match.group(0) != pattern.sub(replacement, match.group(0)):
                found.append(match.group(0)[:12] + "…")
    return found
