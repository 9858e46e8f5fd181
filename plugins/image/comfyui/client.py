"""A ComfyUI client: HTTP for the API, a websocket for the run, behaving as ComfyUI 0.3.x really does.

Facts it relies on (recorded from a real server): per-prompt websocket events reach only the socket whose
clientId equals the prompt's client_id; validation errors come back only as HTTP 400 on POST /prompt;
`executing` with node null for our prompt_id always comes last (after success, error or interrupt); a
cached re-run sends no `executing{node}` events but still `executed`; binary frames are previews
(type 1: [u32 1][u32 format][image], type 4: [u32 4][u32 len][json][image]).
"""

from __future__ import annotations

import contextlib
import json
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ComfyError(Exception):
    """Something went wrong talking to ComfyUI; the message is for people."""


class ComfyUnreachable(ComfyError):
    pass


class ComfyValidationError(ComfyError):
    def __init__(self, message: str, body: dict[str, Any]):
        super().__init__(message)
        self.body = body


class ComfyExecutionError(ComfyError):
    def __init__(self, message: str, data: dict[str, Any]):
        super().__init__(message)
        self.data = data


class ComfyInterrupted(ComfyError):
    pass


@dataclass
class RunOutcome:
    prompt_id: str
    outputs: dict[str, Any]
    status: str
    cached_nodes: list[str] = field(default_factory=list)
    recovered_from_history: bool = False


def parse_binary(frame: bytes) -> tuple[str, bytes, dict[str, Any]] | None:
    """A preview frame → (mime type, image bytes, metadata), or None for frames we do not know."""
    if len(frame) < 8:
        return None
    event = struct.unpack(">I", frame[:4])[0]
    if event == 1:
        fmt = struct.unpack(">I", frame[4:8])[0]
        return ("image/png" if fmt == 2 else "image/jpeg"), frame[8:], {}
    if event == 4:
        meta_len = struct.unpack(">I", frame[4:8])[0]
        meta = json.loads(frame[8 : 8 + meta_len].decode("utf-8"))
        return meta.get("image_type", "image/jpeg"), frame[8 + meta_len :], meta
    return None


class ComfyClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0, client_id: str | None = None, log=None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.client_id = client_id or uuid.uuid4().hex
        self._log = log or (lambda event, message, **context: None)

    # HTTP --------------------------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, body: Any = None, *, raw: bool = False, timeout: float | None = None
    ):
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                payload = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            payload, status = err.read(), err.code
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            self._log("comfyui.http_failed", f"{method} {path} failed: {err}", url=self.base_url)
            raise ComfyUnreachable(f"Cannot reach ComfyUI at {self.base_url} ({_reason(err)}).") from None
        self._log(
            "comfyui.http",
            f"{method} {path} -> {status}",
            status=status,
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        if raw:
            return status, payload
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = {"_text": payload.decode("utf-8", "replace")[:500]}
        return status, parsed

    def _get(self, path: str, **kw):
        status, data = self._request("GET", path, **kw)
        if status >= 400:
            raise ComfyError(f"ComfyUI answered {status} to GET {path}.")
        return data

    def system_stats(self) -> dict[str, Any]:
        return self._get("/system_stats", timeout=min(self.timeout, 5.0))

    def object_info(self) -> dict[str, Any]:
        return self._get("/object_info", timeout=max(self.timeout, 30.0))

    def models(self, folder: str) -> list[str]:
        data = self._get(f"/models/{urllib.parse.quote(folder)}")
        return list(data or [])

    def queue(self) -> dict[str, Any]:
        return self._get("/queue")

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        data = self._get(f"/history/{urllib.parse.quote(prompt_id)}")
        return (data or {}).get(prompt_id)

    def view(self, image: dict[str, Any]) -> bytes:
        query = urllib.parse.urlencode(
            {
                "filename": image["filename"],
                "subfolder": image.get("subfolder", ""),
                "type": image.get("type", "output"),
            }
        )
        status, payload = self._request("GET", f"/view?{query}", raw=True, timeout=max(self.timeout, 60.0))
        if status != 200:
            raise ComfyError(f"ComfyUI could not return the image {image['filename']} ({status}).")
        return payload

    def queue_prompt(
        self,
        prompt: dict[str, Any],
        *,
        prompt_id: str | None = None,
        extra_data: dict[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {"prompt": prompt, "client_id": self.client_id}
        if prompt_id:
            body["prompt_id"] = prompt_id
        if extra_data:
            body["extra_data"] = extra_data
        status, data = self._request("POST", "/prompt", body)
        if status == 400:
            from plugins.image.comfyui.errors import describe_validation

            raise ComfyValidationError(describe_validation(data or {}), data or {})
        if status != 200 or not isinstance(data, dict) or "prompt_id" not in data:
            raise ComfyError(f"ComfyUI refused the workflow ({status}): {str(data)[:300]}")
        if data.get("node_errors"):
            from plugins.image.comfyui.errors import describe_validation

            raise ComfyValidationError(describe_validation(data), data)
        return data["prompt_id"]

    def interrupt(self, prompt_id: str | None = None) -> None:
        self._request("POST", "/interrupt", {"prompt_id": prompt_id} if prompt_id else None)

    def delete_pending(self, prompt_ids: list[str]) -> None:
        self._request("POST", "/queue", {"delete": prompt_ids})

    # websocket ---------------------------------------------------------------------------------------
    def _connect(self):
        import websocket

        parsed = urllib.parse.urlparse(self.base_url)
        scheme = "wss" if parsed.scheme == "https" else "ws"
        url = f"{scheme}://{parsed.netloc}{parsed.path}/ws?clientId={self.client_id}"
        sock = websocket.WebSocket()
        try:
            sock.connect(url, timeout=self.timeout)
        except Exception as err:
            raise ComfyUnreachable(f"Cannot open ComfyUI's websocket at {url} ({_reason(err)}).") from None
        sock.settimeout(0.5)
        return sock

    def run(
        self,
        prompt: dict[str, Any],
        *,
        on_event: Callable[[str, dict[str, Any]], None] = lambda t, d: None,
        on_preview: Callable[[str, bytes], None] = lambda mime, data: None,
        should_cancel: Callable[[], bool] = lambda: False,
        timeout: float = 3600.0,
        silence_timeout: float = 600.0,
        extra_data: dict[str, Any] | None = None,
        max_reconnects: int = 5,
    ) -> RunOutcome:
        """Submit `prompt` and follow it to the end; returns its outputs from /history."""
        import websocket

        sock = self._connect()  # before queueing, so no event is missed
        prompt_id = self.queue_prompt(prompt, extra_data=extra_data)
        started = time.monotonic()
        last_message = time.monotonic()
        seen_start = False
        cancel_sent = False
        cached: list[str] = []
        terminal: tuple[str, dict[str, Any]] | None = None
        reconnects = 0
        try:
            while True:
                if should_cancel() and not cancel_sent:
                    cancel_sent = True
                    self._cancel(prompt_id, running=seen_start)
                    if not seen_start and self.history(prompt_id) is None and not self._in_queue(prompt_id):
                        raise ComfyInterrupted("Cancelled before ComfyUI started it.")
                now = time.monotonic()
                if now - started > timeout:
                    self._cancel(prompt_id, running=seen_start)
                    raise ComfyError(
                        f"ComfyUI did not finish within {timeout / 60:.0f} minutes; it was stopped."
                    )
                if now - last_message > silence_timeout:
                    entry = self.history(prompt_id)
                    if entry is not None:
                        return self._outcome(prompt_id, entry, cached, recovered=True)
                    if not self._in_queue(prompt_id):
                        raise ComfyError("ComfyUI lost the job (it is neither queued nor in the history).")
                    last_message = now
                try:
                    frame = sock.recv()
                    if frame in ("", b"", None):  # the server closed the socket
                        raise websocket.WebSocketConnectionClosedException("closed by the server")
                except websocket.WebSocketTimeoutException:
                    continue
                except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError) as err:
                    reconnects += 1
                    self._log(
                        "comfyui.ws_dropped", f"websocket dropped ({err}); reconnecting", attempt=reconnects
                    )
                    if reconnects > max_reconnects:
                        raise ComfyUnreachable(
                            "Lost the connection to ComfyUI and could not reconnect."
                        ) from None
                    entry = self._recover(prompt_id)
                    if entry is not None:
                        return self._outcome(prompt_id, entry, cached, recovered=True)
                    sock = self._connect()
                    continue
                last_message = time.monotonic()
                if isinstance(frame, bytes):
                    preview = parse_binary(frame)
                    if preview and (not preview[2] or preview[2].get("prompt_id") in (None, prompt_id)):
                        on_preview(preview[0], preview[1])
                    continue
                message = json.loads(frame)
                kind, data = message.get("type"), message.get("data") or {}
                if (
                    kind in ("status", "progress_state", "feature_flags")
                    or data.get("prompt_id") != prompt_id
                ):
                    continue
                if kind == "execution_start":
                    seen_start = True
                elif kind == "execution_cached":
                    cached = list(data.get("nodes") or [])
                elif kind in ("execution_error", "execution_interrupted", "execution_success"):
                    terminal = (kind, data)
                on_event(kind, data)
                if kind == "executing" and data.get("node") is None:
                    break
        finally:
            with contextlib.suppress(Exception):  # closing a dead socket is fine
                sock.close()
        if terminal and terminal[0] == "execution_error":
            from plugins.image.comfyui.errors import describe_execution_error

            raise ComfyExecutionError(describe_execution_error(terminal[1]), terminal[1])
        if terminal and terminal[0] == "execution_interrupted":
            raise ComfyInterrupted(f"Stopped in ComfyUI at {terminal[1].get('node_type', 'a node')}.")
        entry = self._wait_history(prompt_id)
        return self._outcome(prompt_id, entry, cached)

    def _cancel(self, prompt_id: str, *, running: bool) -> None:
        self._log("comfyui.cancel", f"cancelling {prompt_id}", running=running)
        self.delete_pending([prompt_id])  # if it is still waiting in the queue
        self.interrupt(prompt_id)  # if it is running (a no-op otherwise)

    def _in_queue(self, prompt_id: str) -> bool:
        queue = self.queue()
        return any(
            item[1] == prompt_id for key in ("queue_running", "queue_pending") for item in queue.get(key, [])
        )

    def _recover(self, prompt_id: str, wait: float = 2.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                entry = self.history(prompt_id)
            except ComfyUnreachable:
                entry = None
            if entry is not None:
                return entry
            time.sleep(0.2)
        return None

    def _wait_history(self, prompt_id: str, wait: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while True:
            entry = self.history(prompt_id)
            if entry is not None:
                return entry
            if time.monotonic() > deadline:
                raise ComfyError("ComfyUI finished but its history has no entry for the job.")
            time.sleep(0.1)

    @staticmethod
    def _outcome(
        prompt_id: str, entry: dict[str, Any], cached: list[str], recovered: bool = False
    ) -> RunOutcome:
        status = entry.get("status", {})
        if status.get("status_str") == "error":
            messages = dict(
                (m[0], m[1]) for m in status.get("messages", []) if isinstance(m, list) and len(m) == 2
            )
            if "execution_interrupted" in messages:
                raise ComfyInterrupted("The job was stopped in ComfyUI.")
            from plugins.image.comfyui.errors import describe_execution_error

            raise ComfyExecutionError(
                describe_execution_error(messages.get("execution_error", {})),
                messages.get("execution_error", {}),
            )
        return RunOutcome(
            prompt_id, entry.get("outputs", {}), status.get("status_str", "success"), cached, recovered
        )


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return str(reason or err) or type(err).__name__
