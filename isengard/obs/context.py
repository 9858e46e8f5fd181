"""Correlation ids and the current service, carried in context variables.

A UI event, a CLI command or an HTTP request gets a correlation id; jobs copy it into their worker thread,
so every log line of one user action shares it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SERVICES = ("api", "worker", "web")
_PROCESS_ID = "sys-" + uuid.uuid4().hex[:12]
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_correlation: ContextVar[str | None] = ContextVar("isengard_correlation_id", default=None)
_service: ContextVar[str] = ContextVar("isengard_service", default="api")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def clean_correlation_id(value: str | None) -> str | None:
    """An incoming X-Correlation-ID is honoured only if it is a sane token (no injection into logs)."""
    if value and _VALID_ID.match(value.strip()):
        return value.strip()
    return None


def current_correlation_id() -> str:
    return _correlation.get() or _PROCESS_ID


def current_service() -> str:
    return _service.get()


@contextmanager
def use_correlation(correlation_id: str | None = None, *, service: str | None = None) -> Iterator[str]:
    """Bind a correlation id (new if None) and optionally a service for the code inside."""
    cid = clean_correlation_id(correlation_id) or new_correlation_id()
    token = _correlation.set(cid)
    service_token = _service.set(service) if service else None
    try:
        yield cid
    finally:
        _correlation.reset(token)
        if service_token is not None:
            _service.reset(service_token)
