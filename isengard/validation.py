"""Numbers from people and scripts, checked before any job is queued.

Every field at its extremes — beyond 64-bit integers, NaN, infinity, negative, empty, a word where a
number belongs, `True` for a count — gets one sentence that names the field and its range.
"""

from __future__ import annotations

import math
from typing import Any

from isengard.errors import InputError


def _range(lo: float | None, hi: float | None) -> str:
    def show(v: float) -> str:
        if isinstance(v, int):
            return f"{v:,}" if abs(v) >= 10_000 else str(v)
        return f"{v:g}"

    if lo is not None and hi is not None:
        return f"between {show(lo)} and {show(hi)}"
    if lo is not None:
        return f"at least {show(lo)}"
    return f"at most {show(hi)}"


def _fail(
    label: str, lo, hi, hint: str | None, what: str = "a whole number", field: str | None = None
) -> InputError:
    return InputError(f"{label} must be {what} {_range(lo, hi)}.", hint=hint, field=field)


def whole_number(
    label: str,
    value: Any,
    lo: int | None = None,
    hi: int | None = None,
    *,
    hint: str | None = None,
    field: str | None = None,
) -> int:
    """An int in [lo, hi]. Floats that are whole (3.0) and digit strings are accepted."""
    if isinstance(value, bool) or value is None:
        raise _fail(label, lo, hi, hint, field=field)
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        if not text or not text.lstrip("+-").isdigit() or len(text) > 40:
            raise _fail(label, lo, hi, hint, field=field)
        value = int(text)
    elif isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise _fail(label, lo, hi, hint, field=field)
        value = int(value)
    elif not isinstance(value, int):
        raise _fail(label, lo, hi, hint, field=field)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _fail(label, lo, hi, hint, field=field)
    return value


def real_number(
    label: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    hint: str | None = None,
    field: str | None = None,
) -> float:
    """A finite float in [lo, hi]."""
    if isinstance(value, bool) or value is None:
        raise _fail(label, lo, hi, hint, "a number", field)
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", ""))
        except ValueError:
            raise _fail(label, lo, hi, hint, "a number", field) from None
    if not isinstance(value, int | float):
        raise _fail(label, lo, hi, hint, "a number", field)
    try:
        value = float(value)
    except OverflowError:
        raise _fail(label, lo, hi, hint, "a number", field) from None
    if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _fail(label, lo, hi, hint, "a number", field)
    return value


def yes_no(label: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise InputError(f"{label} must be yes or no (true or false).")


def text(label: str, value: Any, *, max_length: int, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"{label} must be text.")
    if "\x00" in value:
        raise InputError(f"{label} contains an invisible null character; please retype it.")
    if len(value) > max_length:
        raise InputError(f"{label} is {len(value):,} characters long; keep it under {max_length:,}.")
    if required and not value.strip():
        raise InputError(f"{label} can't be empty.")
    return value
