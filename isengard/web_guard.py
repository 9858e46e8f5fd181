"""What guards the studio's HTTP side: login throttling, rate limits and safe response headers.

* Logins are admitted or refused *before* the password is checked, so the guesses per minute are bounded
  whatever the concurrency. A client gets `FREE_ATTEMPTS` tries; once it has failed that often it may have
  one attempt at a time, each a little later than the last (1 s, 2 s, 4 s … up to `MAX_DELAY`); anything
  else is refused at once with `429 Too Many Requests` and `Retry-After` — never held open and slept on.
  Overall, at most `GLOBAL_FAILURES` failed logins per minute are allowed from clients that have failed
  before; a client that has not been guessing is never kept waiting by someone else's burst. Every failure
  is logged with the user name, never the password.
* Every response carries `X-Content-Type-Options: nosniff`, so an uploaded file is never run as a page.
* `RateLimiter` is the small token bucket the browser-error endpoint uses.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import parse_qs

from isengard.obs import event, use_correlation

FREE_ATTEMPTS = 3
MAX_DELAY = 30.0
FORGET_AFTER = 15 * 60.0
MAX_LOGIN_BODY = 8192
# The largest real API request is a form's values (every caption of a 30-photo set, the sample prompts,
# a style's prompt: tens of KB); files travel through /gradio_api/upload, which keeps Gradio's own limit.
MAX_API_BODY = 1024 * 1024
# Gradio routes that answer without a login of their own: gated when the studio has one
GATED = ("/gradio_api/heartbeat/", "/gradio_api/cancel", "/gradio_api/reset", "/openapi.json")
GLOBAL_FAILURES = 30  # failed logins per minute, all clients together, from clients that failed before
GLOBAL_WINDOW = 60.0


@dataclass
class _Client:
    failures: int = 0
    last_failure: float = 0.0
    in_flight: int = 0


class LoginThrottle:
    def __init__(
        self, free: int = FREE_ATTEMPTS, max_delay: float = MAX_DELAY, global_failures: int = GLOBAL_FAILURES
    ):
        self.free, self.max_delay, self.global_failures = free, max_delay, global_failures
        self._clients: dict[str, _Client] = {}
        self._recent: deque[float] = deque()  # times of recent failures, all clients
        self._lock = threading.Lock()

    def _client(self, client: str, now: float) -> _Client:
        state = self._clients.get(client)
        if state is None or (
            state.failures and not state.in_flight and now - state.last_failure > FORGET_AFTER
        ):
            state = self._clients[client] = _Client()
            if len(self._clients) > 10_000:  # many addresses must not grow memory for ever
                for key in [k for k, v in self._clients.items() if not v.in_flight and not v.failures]:
                    self._clients.pop(key, None)
        return state

    def delay(self, client: str) -> float:
        """How long after its last failure the client's next attempt must wait."""
        with self._lock:
            state = self._clients.get(client)
            return self._delay_of(state) if state else 0.0

    def _delay_of(self, state: _Client) -> float:
        extra = state.failures - self.free
        return 0.0 if extra < 0 else min(self.max_delay, 2.0**extra)

    def admit(self, client: str) -> float:
        """0 when the client may try now (the attempt is counted from here on), else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            state = self._client(client, now)
            if state.failures + state.in_flight >= self.free:  # guessing: one at a time, paced
                if state.in_flight:
                    return max(1.0, self._delay_of(state))
                ready = state.last_failure + self._delay_of(state)
                if now < ready:
                    return ready - now
            if state.failures:
                while self._recent and now - self._recent[0] > GLOBAL_WINDOW:
                    self._recent.popleft()
                if len(self._recent) >= self.global_failures:
                    return GLOBAL_WINDOW - (now - self._recent[0])
            state.in_flight += 1
            return 0.0

    def failed(self, client: str) -> int:
        now = time.monotonic()
        with self._lock:
            state = self._client(client, now)
            state.in_flight = max(0, state.in_flight - 1)
            state.failures += 1
            state.last_failure = now
            self._recent.append(now)
            return state.failures

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def abandoned(self, client: str) -> None:
        """An admitted attempt that never reached the password check (a broken or oversize request)."""
        with self._lock:
            state = self._clients.get(client)
            if state is not None:
                state.in_flight = max(0, state.in_flight - 1)


class RateLimiter:
    """At most `rate` requests per `per` seconds per client (a token bucket)."""

    def __init__(self, rate: int = 30, per: float = 60.0):
        self.rate, self.per = rate, per
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.rate), now))
            tokens = min(float(self.rate), tokens + (now - last) * self.rate / self.per)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return False
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > 10_000:  # a flood of new clients must not grow memory for ever
                self._buckets.clear()
            return True


def client_key(scope) -> str:
    client = scope.get("client") or ("unknown", 0)
    return str(client[0])


class GuardMiddleware:
    """Pure ASGI: slows repeated failed logins and adds safe headers to every response."""

    def __init__(self, app, throttle: LoginThrottle | None = None):
        self.app = app
        self.throttle = throttle or LoginThrottle()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_safe(message):
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                message = dict(message, headers=headers)
            await send(message)

        path = scope.get("path", "")
        if scope.get("method") == "POST" and path.rstrip("/").endswith("/login"):
            await self._login(scope, receive, send_safe)
            return
        if _is_gated(path) and not signed_in(scope):
            await _refuse(send_safe, 401)  # answered without reading the request
            return
        if (
            scope.get("method") == "POST"
            and "/gradio_api/" in path
            and not path.rstrip("/").endswith("/upload")
        ):
            read = await _bounded(scope, receive, send_safe)
            if read is None:
                return
            receive = read[1]
        await self.app(scope, receive, send_safe)

    async def _login(self, scope, receive, send):
        client = client_key(scope)
        wait = self.throttle.admit(client)
        if wait:
            await _refuse(send, 429, wait)
            with use_correlation(None, service="api"):
                event(
                    "login.refused",
                    f"login from {client} refused: too many attempts (retry in {math.ceil(wait)} s)",
                    level="WARNING",
                    client=client,
                    retry_after_s=math.ceil(wait),
                )
            return
        read = await _bounded(scope, receive, send, MAX_LOGIN_BODY)
        if read is None:
            self.throttle.abandoned(client)
            return
        body, replay = read
        status = {"code": 0}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, replay, watch)
        except BaseException:
            self.throttle.abandoned(client)
            raise
        try:
            user = parse_qs(body.decode("utf-8", "replace")).get("username", [""])[0][:80]
        except Exception:
            user = ""
        with use_correlation(None, service="api"):
            if status["code"] == 200:
                self.throttle.succeeded(client)
                event("login.succeeded", f"login by {user!r}", user=user, client=client)
            else:
                count = self.throttle.failed(client)
                event(
                    "login.failed",
                    f"failed login for {user!r} from {client} ({count} in a row)",
                    level="WARNING",
                    user=user,
                    client=client,
                    failures=count,
                    next_delay_s=self.throttle.delay(client),
                )


def _is_gated(path: str) -> bool:
    return any(gate in path or path.rstrip("/").endswith(gate.rstrip("/")) for gate in GATED)


def signed_in(scope) -> bool:
    """True when the studio has no login, or the request carries a valid sign-in cookie of Gradio's."""
    app = scope.get("app")
    if app is None or getattr(app, "auth", None) is None:
        return True
    from http.cookies import SimpleCookie

    cookies = SimpleCookie()
    for key, value in scope.get("headers", []):
        if key.lower() == b"cookie":
            with contextlib.suppress(Exception):
                cookies.load(value.decode("latin-1"))
    tokens = getattr(app, "tokens", {}) or {}
    for name in (f"access-token-{app.cookie_id}", f"access-token-unsecure-{app.cookie_id}"):
        morsel = cookies.get(name)
        if morsel is not None and tokens.get(morsel.value):
            return True
    return False


async def _bounded(scope, receive, send, limit: int = MAX_API_BODY):
    """Read the request body up to `limit` bytes: (the body, a `receive` that hands it on), or None after
    answering 413 — at once when the declared length is too big, else as soon as the stream passes it."""
    declared = dict(scope.get("headers", [])).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        await _refuse(send, 413)
        return None
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: pass that on
            return body, _replay(message, receive)
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            await _refuse(send, 413)
            return None
    return body, _replay({"type": "http.request", "body": body, "more_body": False}, receive)


def _replay(first: dict, receive):
    """A `receive` that gives `first` once, then whatever the client sends next."""
    pending = [first]

    async def replay():
        return pending.pop() if pending else await receive()

    return replay


async def _refuse(send, status: int, retry_after: float | None = None) -> None:
    """An immediate answer without reading the request further."""
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    text = {
        429: b"Too many sign-in attempts: wait a moment and try again.",
        401: b"Sign in first.",
        413: b"This request is too large.",
    }.get(status, b"")
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text})
