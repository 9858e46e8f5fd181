"""Observability: structured JSON logs, correlation ids, redaction, log folders.

Every line written is one JSON object with `timestamp, level, service, correlation_id, message, event,
context` (see `scripts/validate_logs.py`).
"""

from isengard.obs.context import (
    SERVICES,
    current_correlation_id,
    current_service,
    new_correlation_id,
    use_correlation,
)
from isengard.obs.logsetup import event, get_logger, setup_logging
from isengard.obs.redact import redact, redact_mapping

__all__ = [
    "SERVICES",
    "current_correlation_id",
    "current_service",
    "event",
    "get_logger",
    "new_correlation_id",
    "redact",
    "redact_mapping",
    "setup_logging",
    "use_correlation",
]
