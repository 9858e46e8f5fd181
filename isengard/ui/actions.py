"""`ui_action`: every UI event handler runs under a correlation id and is logged as an action.

The id comes from the request's `X-Correlation-ID` header when a client sends one (API clients, tests),
otherwise a new one is made. Jobs started inside inherit it.

Handlers never raise at a person (a raised error turns every output of the event into a red "Error" box).
A problem a person can act on becomes a toast with its sentence and, when the action has hint lines, that
sentence under the field it concerns; everything else keeps its value. An unexpected failure is logged
with its traceback and shown as a plain sentence, the exception and reference behind "Details".
"""

from __future__ import annotations

import functools
import inspect
import time
import typing
from collections.abc import Callable
from typing import Any

import gradio as gr

from isengard.errors import IsengardError
from isengard.obs import event, use_correlation
from isengard.obs.context import clean_correlation_id
from isengard.ui.hints import FieldHints

UNEXPECTED = "Something went wrong, and nothing was changed. Please try again; if it happens again, the log has the details."


def _correlation_from(request: gr.Request | None) -> str | None:
    if request is None:
        return None
    headers = getattr(request, "headers", None) or {}
    try:
        return clean_correlation_id(headers.get("x-correlation-id"))
    except AttributeError:
        return None


def _request_index(fn: Callable) -> int | None:
    hints = typing.get_type_hints(fn)
    for index, param in enumerate(inspect.signature(fn).parameters.values()):
        if hints.get(param.name) in (gr.Request, typing.Optional[gr.Request]):  # noqa: UP045
            return index
    return None


def _fail(name: str, exc: Exception, cid: str, started: float, hints: FieldHints | None, raises: bool):
    """The updates for a failed action: a toast, the hint line beside the field, nothing else touched.
    An API endpoint (`raises`) answers its client with the error instead."""
    elapsed = round(time.monotonic() - started, 3)
    if isinstance(exc, IsengardError | gr.Error):
        message = str(exc.message if isinstance(exc, gr.Error) else exc)
        event("ui.action.rejected", f"{name}: {message}", level="WARNING", action=name, seconds=elapsed)
        if raises:
            # an ordinary mistake of the caller: one line in the log above, no traceback on the console
            raise gr.Error(message, print_exception=False) from exc
        gr.Warning(message)
        field = getattr(exc, "field", None)
        return hints.show(message, field) if hints else gr.skip()
    import traceback

    event(
        "ui.action.error",
        f"{name} failed: {type(exc).__name__}: {exc}",
        level="ERROR",
        action=name,
        seconds=elapsed,
        traceback=traceback.format_exc()[-4000:],
    )
    if raises:
        raise gr.Error(f"Something went wrong ({type(exc).__name__}: {exc}). Reference: {cid}") from exc
    gr.Warning(UNEXPECTED)
    details = f"{type(exc).__name__}: {exc} (reference {cid})"
    return hints.show(UNEXPECTED, None, details) if hints else gr.skip()


def ui_action(
    name: str, *, quiet: bool = False, hints: FieldHints | None = None, raises: bool = False
) -> Callable[[Callable], Callable]:
    """Wrap a handler (function or generator) with correlation, logging and friendly errors.

    `quiet=True` writes the start/finish lines at DEBUG instead of INFO: for timers that fire every second
    and handlers that run on each keystroke. Every click and choice a person makes is logged at INFO.
    `hints`: the hint lines of the form (they must be among the event's outputs, and the handler returns
    dicts): a problem fills the line of its field, a success clears them. `raises`: an API endpoint, whose
    client gets the error (as `gradio_client` expects) instead of a toast.
    """
    level = "DEBUG" if quiet else "INFO"

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        req_index = _request_index(fn)
        added = req_index is None
        if added:
            req_index = len(params)
            params.append(
                inspect.Parameter(
                    "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
                )
            )

        def split(args: tuple, kwargs: dict) -> tuple[tuple, dict, gr.Request | None]:
            args_list = list(args)
            if "request" in kwargs:
                request = kwargs["request"]
                if added:
                    kwargs = {k: v for k, v in kwargs.items() if k != "request"}
            elif len(args_list) > req_index:
                request = args_list[req_index]
                if added:
                    del args_list[req_index]
            else:
                request = None
            return tuple(args_list), kwargs, request

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any):
                args, kwargs, request = split(args, kwargs)
                cid = _correlation_from(request)
                with use_correlation(cid, service="api") as cid:
                    event("ui.action", name, level=level, action=name)
                started = time.monotonic()
                gen = fn(*args, **kwargs)
                while True:
                    failure = None
                    with use_correlation(cid, service="api"):  # never yield inside: Gradio resumes the
                        try:  # generator in another thread, where this context cannot be reset
                            value = next(gen)
                        except StopIteration:
                            event(
                                "ui.action.done",
                                f"{name} done",
                                level=level,
                                action=name,
                                seconds=round(time.monotonic() - started, 3),
                            )
                            return
                        except Exception as exc:
                            failure = _fail(name, exc, cid, started, hints, raises)
                    if failure is not None:
                        yield failure
                        return
                    yield hints.merge(value) if hints else value

        else:

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any):
                args, kwargs, request = split(args, kwargs)
                with use_correlation(_correlation_from(request), service="api") as cid:
                    started = time.monotonic()
                    event("ui.action", name, level=level, action=name)
                    try:
                        result = fn(*args, **kwargs)
                    except Exception as exc:
                        return _fail(name, exc, cid, started, hints, raises)
                    if hints:
                        result = hints.merge(result)
                    event(
                        "ui.action.done",
                        f"{name} done",
                        level=level,
                        action=name,
                        seconds=round(time.monotonic() - started, 3),
                    )
                    return result

        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        annotations = dict(getattr(fn, "__annotations__", {}))
        if added:
            annotations["request"] = gr.Request
        wrapper.__annotations__ = annotations
        wrapper.__wrapped_action__ = name  # type: ignore[attr-defined]
        return wrapper

    return decorate
