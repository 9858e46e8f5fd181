"""What guards the studio's HTTP side: login throttling, rate limits and safe response headers.

* Failed logins are counted per client; after `FREE_ATTEMPTS` each further attempt waits longer
  (1 s, 2 s, 4 s … up to `MAX_DELAY`). Every failure is logged with the user name, never the password.
* Every response carries `X-Content-Type-Options: nosniff`, so an uploaded file is never run as a page.
* `RateLimiter` is the small token bucket the browser-error endpoint uses.
"""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import parse_qs

from isengard.obs import event, use_correlation

FREE_ATTEMPTS = 3
MAX_DELAY = 30.0
FORGET_AFTER = 15 * 60.0
MAX_LOGIN_BODY = 8192


class LoginThrottle:
    def __init__(self, free: int = FREE_ATTEMPTS, max_delay: float = MAX_DELAY):
        self.free, self.max_delay = free, max_delay
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def delay(self, client: str) -> float:
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
            if time.monotonic() - last > FORGET_AFTER:
                self._failures.pop(client, None)
                return 0.0
        extra = count - self.free
        return 0.0 if extra < 0 else min(self.max_delay, 2.0**extra)

    def failed(self, client: str) -> int:
        with self._lock:
            count, _ = self._failures.get(client, (0, 0.0))
            self._failures[client] = (count + 1, time.monotonic())
            return count + 1

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


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

        if scope.get("method") == "POST" and scope.get("path", "").rstrip("/").endswith("/login"):
            await self._login(scope, receive, send_safe)
            return
        await self.app(scope, receive, send_safe)

    async def _login(self, scope, receive, send):
        client = client_key(scope)
        wait = self.throttle.delay(client)
        if wait:
            await asyncio.sleep(wait)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_LOGIN_BODY:
                await send({"type": "http.response.start", "status": 413, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = {"code": 0}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, replay, watch)
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
