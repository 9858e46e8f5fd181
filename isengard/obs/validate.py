"""Checking log files against the schema (used by scripts/validate_logs.py and the tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from isengard.obs.context import SERVICES
from isengard.obs.redact import find_secrets

REQUIRED = {
    "timestamp": str,
    "level": str,
    "service": str,
    "correlation_id": str,
    "message": str,
    "event": str,
    "context": dict,
}
LEVELS = {"TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"}


@dataclass
class Report:
    files: int = 0
    lines: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_line(line: str, expected_service: str | None) -> list[str]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return [f"not JSON ({exc.msg})"]
    if not isinstance(data, dict):
        return ["not a JSON object"]
    problems = []
    for key, kind in REQUIRED.items():
        if key not in data:
            problems.append(f"missing {key}")
        elif not isinstance(data[key], kind):
            problems.append(f"{key} is {type(data[key]).__name__}, expected {kind.__name__}")
    extra = set(data) - set(REQUIRED)
    if extra:
        problems.append(f"unexpected keys {sorted(extra)}")
    if problems:
        return problems
    try:
        datetime.fromisoformat(data["timestamp"])
    except ValueError:
        problems.append("timestamp is not ISO 8601")
    if data["level"] not in LEVELS:
        problems.append(f"unknown level {data['level']!r}")
    if data["service"] not in SERVICES:
        problems.append(f"unknown service {data['service']!r}")
    elif expected_service and data["service"] != expected_service:
        problems.append(f"service {data['service']!r} in the {expected_service} log")
    if not data["correlation_id"].strip():
        problems.append("empty correlation_id")
    if not data["event"].strip():
        problems.append("empty event")
    secrets = find_secrets(line)
    if secrets:
        problems.append(f"unredacted secret(s): {', '.join(secrets)}")
    return problems


def validate_dir(log_dir: Path, *, max_problems: int = 200) -> Report:
    report = Report()
    for path in sorted(Path(log_dir).rglob("*.log")):
        report.files += 1
        rel = path.relative_to(log_dir)
        raw_output = "subprocess" in rel.parts
        service = rel.parts[0] if rel.parts and rel.parts[0] in SERVICES else None
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                report.lines += 1
                if raw_output:  # a program's own output: only checked for secrets
                    problems = [f"unredacted secret(s): {', '.join(s)}" for s in [find_secrets(line)] if s]
                else:
                    problems = check_line(line, service)
                for problem in problems:
                    if len(report.problems) < max_problems:
                        report.problems.append(f"{rel}:{number}: {problem}")
    return report
