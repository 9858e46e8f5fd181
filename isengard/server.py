"""Serving the studio: port check, login, served paths, extra routes (health, browser error reports)."""

from __future__ import annotations

import hmac
import json
import os
import secrets
import socket
import sys
from dataclasses import dataclass
from typing import Any

from isengard.errors import PortInUseError
from isengard.obs import event, use_correlation
from isengard.obs.context import clean_correlation_id
from isengard.obs.redact import register_secrets
from isengard.web_guard import RateLimiter

MAX_CLIENT_LOG_BYTES = 16_384
CLIENT_LOG_RATE = 30  # reports a minute per client: enough for a page in trouble, too few to flood the logs


def same_origin(headers, peer: str | None = None) -> bool:
    """A browser's own page posts with an Origin (or Referer) of the host it talks to; others are refused.
    `X-Forwarded-Host` names that host only when a trusted proxy (`peer`) sent the request: anyone else
    could forge it along with the Origin."""
    from urllib.parse import urlsplit

    forwarded = headers.get("x-forwarded-host") if trusted_proxy(peer) else None
    host = (forwarded or headers.get("host") or "").lower()
    source = headers.get("origin") or headers.get("referer") or ""
    if not host or not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == host


def trusted_proxy(peer: str | None) -> bool:
    """Loopback (a proxy on this machine, such as the share link's tunnel) or an address listed in
    FORWARDED_ALLOW_IPS (comma-separated, as uvicorn reads it; "*" trusts every proxy)."""
    allowed = {
        a.strip() for a in os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1").split(",") if a.strip()
    }
    return bool(peer) and ("*" in allowed or peer in allowed)


@dataclass
class Login:
    user: str
    password: str
    generated: bool

    def check(self, user: str, password: str) -> bool:
        # bytes, not str: compare_digest refuses non-ASCII str, and a login must never be a 500
        given_user, given_password = (user or "").encode("utf-8"), (password or "").encode("utf-8")
        return hmac.compare_digest(given_user, self.user.encode("utf-8")) & hmac.compare_digest(
            given_password, self.password.encode("utf-8")
        )


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(
                f"Port {port} on {host} is already in use ({exc.strerror}).",
                hint="Stop the other program, or start Isengard with --port / PORT set to a free port.",
            ) from None


def resolve_login(settings) -> Login | None:
    """A login when bound beyond loopback or shared; ISENGARD_AUTH, else a generated password."""
    if settings.auth:
        return Login(settings.auth[0], settings.auth[1], generated=False)
    if not settings.login_required:
        return None
    login = Login("isengard", secrets.token_urlsafe(12), generated=True)
    register_secrets(login.password)  # shown once on the console; never in a log line, even by accident
    return login


def announce_login(login: Login, settings) -> None:
    """Print a generated password once, on the console only — it is never written to a log."""
    why = "a share link was requested" if settings.share else f"the studio listens on {settings.host}"
    sys.stderr.write(
        "\n"
        f"  Login required because {why}.\n"
        f"  User: {login.user}\n"
        f"  Password: {login.password}\n"
        "  (Generated for this run. Set ISENGARD_AUTH=user:password to choose your own.)\n\n"
    )
    sys.stderr.flush()


def extra_routes(ctx) -> list[Any]:
    """Routes added before Gradio's own: a health check and the browser error sink."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "mode": ctx.settings.mode})

    limiter = RateLimiter(rate=CLIENT_LOG_RATE, per=60.0)

    async def client_log(request: Request) -> Response:
        app = request.app
        if getattr(app, "auth", None) is not None:
            token = request.cookies.get(f"access-token-{app.cookie_id}") or request.cookies.get(
                f"access-token-unsecure-{app.cookie_id}"
            )
            if not app.tokens.get(token):
                return Response(status_code=401)
        if not same_origin(request.headers, request.client.host if request.client else None):
            return Response(status_code=403)
        if not limiter.allow(request.client.host if request.client else "unknown"):
            return Response(status_code=429)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_CLIENT_LOG_BYTES:
            return Response(status_code=413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_CLIENT_LOG_BYTES:
                return Response(status_code=413)
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            return Response(status_code=400)
        cid = clean_correlation_id(request.headers.get("x-correlation-id"))
        with use_correlation(cid, service="web"):
            event(
                "browser.error",
                str(payload.get("message", ""))[:2000] or "browser error",
                level="ERROR",
                kind=str(payload.get("kind", "error"))[:40],
                source=str(payload.get("source") or "")[:500],
                line=payload.get("line"),
                column=payload.get("column"),
                stack=str(payload.get("stack") or "")[:4000],
                url=str(payload.get("url") or "")[:500],
                user_agent=str(request.headers.get("user-agent", ""))[:300],
            )
        return Response(status_code=204)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/isengard/client-log", client_log, methods=["POST"]),
    ]
    token = getattr(ctx.runner.placement, "token", None)
    if token:  # workers without a shared disk fetch and send files here, signed with the worker token
        from isengard.jobs import worker_files

        routes += worker_files.routes(ctx, token)
    return routes


def launch(ctx, *, block: bool = True):
    """Build the Blocks app and serve it. Returns (blocks, local_url)."""
    settings = ctx.settings
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("GRADIO_TEMP_DIR", str(ctx.paths.scratch("gradio")))
    check_port_free(settings.host, settings.port)
    login = resolve_login(settings)
    if login and login.generated:
        announce_login(login, settings)

    import gradio as gr
    from starlette.middleware import Middleware

    from isengard.ui.app import create_blocks, css, head_html
    from isengard.web_guard import GuardMiddleware

    blocks = create_blocks(ctx)
    blocks.queue(default_concurrency_limit=4, max_size=64)
    served = [ctx.paths.outputs, ctx.paths.uploads, ctx.paths.loras, ctx.paths.training_runs]
    for folder in served:
        folder.mkdir(parents=True, exist_ok=True)
    event(
        "server.starting",
        f"serving on http://{settings.host}:{settings.port}",
        host=settings.host,
        port=settings.port,
        share=settings.share,
        login=bool(login),
        login_source=None if login is None else ("generated" if login.generated else "ISENGARD_AUTH"),
    )
    _app, local_url, share_url = blocks.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        auth=login.check if login else None,
        auth_message="Isengard: sign in with the user and password shown on the server console.",
        allowed_paths=[str(p) for p in served],
        blocked_paths=[str(ctx.paths.secrets), str(ctx.paths.db)],
        max_file_size=f"{settings.max_upload_mb}mb",
        app_kwargs={"routes": extra_routes(ctx), "middleware": [Middleware(GuardMiddleware)]},
        prevent_thread_lock=True,
        enable_monitoring=False,
        run_history=False,
        footer_links=["api"],
        show_error=True,
        quiet=True,
        theme=gr.themes.Soft(
            primary_hue="violet",
            font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
            font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"],
        ),
        css=css(),
        head=head_html(),
    )
    event("server.started", f"studio ready at {local_url}", url=local_url, share_url=share_url)
    sys.stderr.write(f"\n  Isengard is running: {local_url}  ({settings.mode} mode)\n")
    if share_url:
        sys.stderr.write(f"  Public share link: {share_url}\n")
    elif settings.share:
        sys.stderr.write("  No share link could be created (no internet?); the studio still runs locally.\n")
    sys.stderr.write("  Press Ctrl+C to stop.\n\n")
    sys.stderr.flush()
    if block:
        blocks.block_thread()
    return blocks, local_url
