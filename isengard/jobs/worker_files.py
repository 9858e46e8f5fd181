"""Files for a worker that shares no disk with the studio, over the studio's own HTTP.

The studio serves its data folder's files to workers that sign each request with the worker token
(`GET /isengard/worker/file/data/<path>`, `GET /isengard/worker/list/...`) and takes back what a run makes
(`PUT`, only into the training runs and the scratch folder, each file written atomically). The worker
mirrors what a request names into its own data folder (photos, the base model, LoRAs, a run to resume)
and sends every checkpoint, sample and preview back before it tells the studio about it — so the studio
keeps the checkpoints a resume needs, whichever worker resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from isengard.models.manager import COMPLETE, IGNORE
from isengard.obs import event
from isengard.storage.files import atomic_write_text
from plugins.base import ModelRef

PREFIX = "/isengard/worker"
CLOCK_SKEW_SECONDS = 300
CHUNK = 1 << 20
HUB_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")  # owner/name: a base the studio downloaded from the Hub


def signature(token: str, method: str, path: str, at: str) -> str:
    return hmac.new(token.encode(), f"{method}\n{path}\n{at}".encode(), hashlib.sha256).hexdigest()


def signed_headers(token: str, method: str, path: str) -> dict[str, str]:
    at = str(int(time.time()))
    return {"X-Isengard-Time": at, "X-Isengard-Sign": signature(token, method, path, at)}


def verify(token: str, method: str, path: str, headers) -> bool:
    at, sign = headers.get("x-isengard-time", ""), headers.get("x-isengard-sign", "")
    if not at.isdigit() or abs(time.time() - int(at)) > CLOCK_SKEW_SECONDS:
        return False
    return hmac.compare_digest(signature(token, method, path, at), sign)


# the studio's side ------------------------------------------------------------------------------------
def routes(ctx, token: str) -> list[Any]:
    """Starlette routes for the studio (added only when it hands out work through a queue)."""
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    paths = ctx.paths
    roots = {"data": paths.data.resolve(), "tmp": paths.tmp.resolve()}
    writable = [paths.training_runs.resolve(), roots["tmp"]]

    def target(request: Request) -> Path | None:
        root = roots.get(request.path_params["root"])
        if root is None:
            return None
        found = (root / request.path_params["rest"]).resolve()
        if not found.is_relative_to(root):
            return None
        if found.is_relative_to(paths.secrets.resolve()) or found.name.startswith(paths.db.name):
            return None
        return found

    def refused(request: Request, status: int, why: str) -> Response:
        event(
            "worker.http_refused",
            f"{request.method} {request.url.path} refused: {why}",
            level="WARNING",
            client=request.client.host if request.client else None,
        )
        return Response(status_code=status)

    def readable(request: Request) -> Path | Response:
        """The file or folder a signed request may read, or the refusal (logged, never the token)."""
        if not verify(token, request.method, request.url.path, request.headers):
            return refused(request, 401, "not signed with the worker token")
        found = target(request)
        return refused(request, 403, "outside what workers may read") if found is None else found

    async def get_file(request: Request) -> Response:
        found = readable(request)
        if isinstance(found, Response):
            return found
        if not found.is_file():
            return Response(status_code=404)
        return FileResponse(found)

    async def listing(request: Request) -> Response:
        found = readable(request)
        if isinstance(found, Response):
            return found
        if found.is_file():
            return JSONResponse({"kind": "file", "files": [{"path": "", "size": found.stat().st_size}]})
        if not found.is_dir():
            return JSONResponse({"kind": "missing", "files": []})
        files = [
            {"path": str(p.relative_to(found)), "size": p.stat().st_size}
            for p in sorted(found.rglob("*"))
            if p.is_file() and not p.name.startswith(".tmp-")
        ]
        return JSONResponse({"kind": "dir", "files": files})

    async def put_file(request: Request) -> Response:
        if not verify(token, request.method, request.url.path, request.headers):
            return refused(request, 401, "not signed with the worker token")
        found = target(request)
        if found is None or not any(found.is_relative_to(w) for w in writable):
            return refused(request, 403, "outside what workers may write")
        found.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=found.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                async for chunk in request.stream():
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, found)  # whole or not at all: a reader never sees half a checkpoint
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return Response(status_code=204)

    return [
        Route(PREFIX + "/file/{root}/{rest:path}", get_file, methods=["GET"]),
        Route(PREFIX + "/file/{root}/{rest:path}", put_file, methods=["PUT"]),
        Route(PREFIX + "/list/{root}/{rest:path}", listing, methods=["GET"]),
    ]


# the worker's side -------------------------------------------------------------------------------------
class Mirror:
    """A worker's copy of what a run needs from the studio, and the way back for what the run makes."""

    def __init__(self, server: str, token: str, studio_roots: dict[str, str], local_roots: dict[str, Path]):
        self.server = server.rstrip("/")
        self.token = token
        self.studio = {name: Path(path) for name, path in studio_roots.items()}
        self.local = {name: Path(path).resolve() for name, path in local_roots.items()}
        self._pushed: dict[Path, tuple[int, int]] = {}

    # mapping ---------------------------------------------------------------------------------------------
    def _place(self, path: Path, here: dict[str, Path]) -> tuple[str, Path] | None:
        for name, root in here.items():
            if path.is_relative_to(root):
                return name, path.relative_to(root)
        return None

    def to_local(self, path: Path) -> Path | None:
        found = self._place(Path(path), self.studio)
        return self.local[found[0]] / found[1] if found else None

    def to_studio(self, path: Path) -> Path | None:
        found = self._place(Path(path).resolve(), self.local)
        return self.studio[found[0]] / found[1] if found else None

    # moving files ---------------------------------------------------------------------------------------
    def _url(self, what: str, root: str, rel: Path) -> tuple[str, str]:
        path = f"{PREFIX}/{what}/{root}/{urllib.parse.quote(str(rel).replace(os.sep, '/'))}"
        return path, self.server + path

    def _open(self, method: str, what: str, root: str, rel: Path, data=None, length: int | None = None):
        path, url = self._url(what, root, rel)
        headers = signed_headers(self.token, method, path)
        if length is not None:
            headers["Content-Length"] = str(length)
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        return urllib.request.urlopen(request, timeout=60)

    def fetch(self, studio_path: Path) -> None:
        """Copy a studio file or folder here, skipping files already here at the same size."""
        found = self._place(Path(studio_path), self.studio)
        if found is None:
            return
        root, rel = found
        with self._open("GET", "list", root, rel) as answer:
            listing = json.load(answer)
        for item in listing["files"]:
            part = rel / item["path"] if item["path"] else rel
            local = self.local[root] / part
            if local.is_file() and local.stat().st_size == item["size"]:
                continue
            local.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=local.parent)
            try:
                with os.fdopen(handle, "wb") as out, self._open("GET", "file", root, part) as answer:
                    while chunk := answer.read(CHUNK):
                        out.write(chunk)
                os.replace(temporary, local)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            self._pushed[local.resolve()] = _stamp(local)  # the studio has it already
        if listing["files"]:
            event("worker.fetched", f"{len(listing['files'])} file(s) from the studio", path=str(rel))

    def push(self, local_path: Path) -> Path | None:
        """Send a file (or every changed file of a folder) to the studio; the studio's path for it."""
        local_path = Path(local_path).resolve()
        studio_path = self.to_studio(local_path)
        if studio_path is None or not local_path.exists():
            return studio_path
        files = (
            sorted(p for p in local_path.rglob("*") if p.is_file()) if local_path.is_dir() else [local_path]
        )
        for file in files:
            if file.name.startswith(".tmp-") or self._pushed.get(file) == _stamp(file):
                continue
            root, rel = self._place(file, self.local)
            with file.open("rb") as body, self._open("PUT", "file", root, rel, body, file.stat().st_size):
                pass
            self._pushed[file] = _stamp(file)
        return studio_path

    def hub_base(self, ref: ModelRef) -> ModelRef | None:
        """A base model the studio downloaded from the Hub comes to this worker from the Hub too (its own
        token from HF_TOKEN, the same revision, into the same place in this worker's folder) rather than
        tens of GB over the studio's connection. None when the Hub cannot give it: the studio's copy then."""
        local = self.to_local(ref.local_path) if ref.local_path else None
        if local is None or not HUB_REPO.match(ref.source) or not ref.sha256:
            return None
        if (local / COMPLETE).is_file():
            return replace(ref, local_path=local)
        from huggingface_hub import snapshot_download

        event(
            "worker.hub_download",
            f"downloading {ref.source} from the Hub",
            repo=ref.source,
            revision=ref.sha256,
        )
        try:
            snapshot_download(ref.source, revision=ref.sha256, local_dir=str(local), ignore_patterns=IGNORE)
        except Exception as exc:  # offline, no token for a gated model, the Hub down
            event("worker.hub_unavailable", f"{ref.source} from the studio instead: {exc}", level="WARNING")
            return None
        atomic_write_text(
            local / COMPLETE,
            json.dumps({"repo": ref.source, "revision": ref.sha256, "finished": time.time()}),
        )
        return replace(ref, local_path=local)

    # requests and results -------------------------------------------------------------------------------
    def localize(self, value: Any) -> Any:
        """`value` with every studio path turned into this worker's, each fetched from the studio first
        (a Hub base model from the Hub)."""
        if isinstance(value, ModelRef) and (from_hub := self.hub_base(value)) is not None:
            return replace(from_hub, training_adapter=self.localize(from_hub.training_adapter))
        if isinstance(value, Path):
            local = self.to_local(value)
            if local is None:
                return value
            self.fetch(value)
            return local
        return _walk(value, self.localize)

    def globalize(self, value: Any) -> Any:
        """`value` with every path of this worker's turned into the studio's, each sent there first."""
        if isinstance(value, Path):
            return self.push(value) or value
        if isinstance(value, str) and value.startswith(os.sep) and self.to_studio(Path(value)):
            return str(self.push(Path(value)))
        return _walk(value, self.globalize)


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _walk(value: Any, change) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{f.name: change(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        )
    if isinstance(value, list):
        return [change(v) for v in value]
    if isinstance(value, tuple):
        return tuple(change(v) for v in value)
    if isinstance(value, dict):
        return {k: change(v) for k, v in value.items()}
    return value


def fetch_error(exc: BaseException) -> str | None:
    """A sentence for the studio refusing or failing a file transfer (None: not a transfer failure)."""
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 401:
            return "The studio refused this worker's files request: its worker token does not match."
        return f"The studio answered {exc.code} to a file transfer."
    if isinstance(exc, urllib.error.URLError):
        return f"The studio cannot be reached for files ({exc.reason})."
    return None
