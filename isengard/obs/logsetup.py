"""Loguru set-up: one JSON-lines file per service, a readable console, archives and retention."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from loguru import logger

from isengard.obs.context import SERVICES, current_correlation_id, current_service
from isengard.obs.redact import redact, redact_mapping

ARCHIVE_FORMAT = "%Y%m%d_%H%M%S"
RETENTION_DAYS = 30
_lock = threading.Lock()
_handler_ids: list[int] = []


def _json_default(value: Any) -> str:
    return str(value)


# JSON leaves these raw with ensure_ascii=False, yet many readers (Python's splitlines among them) break a
# line at them: escaped, one log record stays one line whatever a browser or a file name sends.
_LINE_BREAKERS = re.compile("[\x7f-\x9f\u2028\u2029\x0b\x0c\x1c-\x1e]")


def one_json_line(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, default=_json_default)
    return _LINE_BREAKERS.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def _patch(record: dict) -> None:
    extra = record["extra"]
    extra.setdefault("service", current_service())
    extra.setdefault("correlation_id", current_correlation_id())
    extra.setdefault("event", "log")
    context = dict(extra.get("context") or {})
    for key, value in extra.items():
        if key not in ("service", "correlation_id", "event", "context", "_line", "_console"):
            context.setdefault(key, value)
    if record["exception"] is not None:
        import traceback

        exc = record["exception"]
        context["exception"] = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))[-4000:]
    line = {
        "timestamp": record["time"].astimezone(UTC).isoformat(timespec="microseconds"),
        "level": record["level"].name,
        "service": extra["service"],
        "correlation_id": extra["correlation_id"],
        "message": redact(str(record["message"])),
        "event": extra["event"],
        "context": redact_mapping(context),
    }
    extra["_line"] = one_json_line(line)
    extra["_console"] = redact(str(record["message"]))


def _file_format(_record: dict) -> str:
    return "{extra[_line]}\n"


def _console_format(_record: dict) -> str:
    return "<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> [{extra[service]}] {extra[_console]}\n"


def archive_latest(log_dir: Path, now: datetime | None = None) -> list[Path]:
    """Move each service's `latest/` into `archive/<YYYYMMDD_HHMMSS>/`; drop archives older than 30 days."""
    now = now or datetime.now()
    moved = []
    for service in SERVICES:
        latest = log_dir / service / "latest"
        archive_root = log_dir / service / "archive"
        if latest.is_dir() and any(latest.iterdir()):
            archive_root.mkdir(parents=True, exist_ok=True)
            target = archive_root / now.strftime(ARCHIVE_FORMAT)
            suffix = 1
            while target.exists():
                target = archive_root / f"{now.strftime(ARCHIVE_FORMAT)}_{suffix}"
                suffix += 1
            shutil.move(str(latest), str(target))
            moved.append(target)
        prune_archives(archive_root, now)
    return moved


def prune_archives(archive_root: Path, now: datetime, days: int = RETENTION_DAYS) -> list[Path]:
    removed = []
    if not archive_root.is_dir():
        return removed
    cutoff = now - timedelta(days=days)
    for entry in archive_root.iterdir():
        try:
            stamp = datetime.strptime(entry.name[:15], ARCHIVE_FORMAT)
        except ValueError:
            continue
        if stamp < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def setup_logging(
    log_dir: Path,
    level: str = "INFO",
    *,
    rotate: bool = False,
    console: bool = True,
    console_level: str | None = None,
) -> None:
    """(Re)configure loguru: JSON files per service under `log_dir`, and a readable console on stderr."""
    with _lock:
        logger.remove()
        _handler_ids.clear()
        logger.configure(patcher=_patch)
        if rotate:
            archive_latest(log_dir)
        for service in SERVICES:
            folder = log_dir / service / "latest"
            folder.mkdir(parents=True, exist_ok=True)
            name = "client.log" if service == "web" else f"{service}.log"
            _handler_ids.append(
                logger.add(
                    folder / name,
                    level=level,
                    format=_file_format,
                    filter=lambda r, s=service: r["extra"].get("service") == s,
                    encoding="utf-8",
                    enqueue=False,
                    catch=True,
                )
            )
        (log_dir / "worker" / "latest" / "subprocess").mkdir(parents=True, exist_ok=True)
        _intercept_std_logging()
        if console:
            _handler_ids.append(
                logger.add(sys.stderr, level=console_level or level, format=_console_format, colorize=None)
            )


class _InterceptHandler(logging.Handler):
    """Send the standard `logging` records of libraries (diffusers, transformers, uvicorn…) to our JSON logs."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.bind(event=f"lib.{record.name}").opt(exception=record.exc_info).log(level, record.getMessage())


# library loggers whose warnings are noise for users (optional accelerators that are not installed)
QUIET_LOGGERS = {"bitsandbytes": logging.ERROR, "httpx": logging.WARNING, "httpcore": logging.WARNING}


def _intercept_std_logging() -> None:
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.WARNING, force=True)
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)


def get_logger(**bind: Any):
    return logger.bind(**bind)


def event(name: str, message: str | None = None, *, level: str = "INFO", **context: Any) -> None:
    """Log one named event with context; the correlation id and service come from the current context."""
    logger.bind(event=name, context=context).opt(depth=1).log(level, message or name)
