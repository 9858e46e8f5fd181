"""A stand-in of the Hugging Face Hub's HTTP API on loopback, for the publishing and importing tests: the calls
huggingface_hub makes with Xet disabled (`HF_HUB_DISABLE_XET=1`, plain HTTP and LFS) — whoami, create repo,
validate YAML, preupload, the LFS batch and upload, the NDJSON commit, model info with file sizes, and file
downloads (HEAD and GET of /resolve/) — with the Hub's status codes and `X-Error-Code` headers for a read-only
token, someone else's namespace, a private or gated repo. It can break an upload (`fail_upload`) or refuse a
size (`refuse_size_over`), and records every request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Repo:
    owner: str
    private: bool
    gated: Any = False  # False | "auto" | "manual"
    files: dict[str, bytes] = field(default_factory=dict)
    sha: str = field(default_factory=lambda: uuid.uuid4().hex + uuid.uuid4().hex[:8])
    commits: list[str] = field(default_factory=list)


class FakeHub:
    def __init__(self):
        self.tokens = {"hf_write_ada": ("ada", "write"), "hf_read_ada": ("ada", "read")}
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.failing_oid: str | None = None  # an LFS object whose upload is refused once (fail_upload)
        self.refuse_size_over: int | None = None  # bytes: the LFS batch refuses larger objects
        self.url = ""

    # test helpers ------------------------------------------------------------------------------------
    def add_repo(self, repo_id: str, files: dict[str, bytes], *, private=False, gated=False) -> Repo:
        repo = Repo(owner=repo_id.split("/")[0], private=private, gated=gated, files=dict(files))
        self.repos[repo_id] = repo
        return repo

    # the server ---------------------------------------------------------------------------------------
    def start(self) -> FakeHub:
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(self._app(), host="127.0.0.1", port=port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def _user(self, request) -> tuple[str, str] | None:
        auth = request.headers.get("authorization", "")
        return self.tokens.get(auth.removeprefix("Bearer ").strip()) if auth else None

    def _app(self):
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        def error(status: int, message: str, code: str | None = None) -> JSONResponse:
            headers = (
                {"X-Error-Code": code, "X-Error-Message": message} if code else {"X-Error-Message": message}
            )
            return JSONResponse({"error": message}, status_code=status, headers=headers)

        def visible(request, repo_id: str) -> Repo | JSONResponse:
            repo = self.repos.get(repo_id)
            user = self._user(request)
            if repo is None or (repo.private and (user is None or user[0] != repo.owner)):
                return error(404 if user else 401, "Repository Not Found", "RepoNotFound")
            return repo

        async def whoami(request):
            self.requests.append(("GET", "whoami"))
            user = self._user(request)
            if user is None:
                return error(401, "Invalid credentials in Authorization header")
            name, role = user
            return JSONResponse(
                {"type": "user", "name": name, "auth": {"accessToken": {"displayName": "t", "role": role}}}
            )

        async def create(request):
            body = await request.json()
            self.requests.append(("POST", "create"))
            user = self._user(request)
            if user is None:
                return error(401, "Invalid credentials in Authorization header")
            namespace = body.get("organization") or user[0]
            repo_id = f"{namespace}/{body['name']}"
            if user[1] != "write" or namespace != user[0]:
                return error(
                    403, f'You don\'t have the rights to create a model under the namespace "{namespace}"'
                )
            if repo_id in self.repos:
                return JSONResponse(
                    {"error": "You already created this model repo", "url": f"{self.url}/{repo_id}"}, 409
                )
            self.repos[repo_id] = Repo(owner=namespace, private=body.get("visibility") == "private")
            return JSONResponse({"url": f"{self.url}/{repo_id}", "name": repo_id})

        async def validate_yaml(request):
            return JSONResponse({"errors": [], "warnings": []})

        async def info(request):
            repo_id = f"{request.path_params['owner']}/{request.path_params['name']}"
            self.requests.append(("GET", f"info {repo_id}"))
            repo = visible(request, repo_id)
            if not isinstance(repo, Repo):
                return repo
            siblings = [
                {"rfilename": path, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
                | (
                    {
                        "lfs": {
                            "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(),
                            "pointerSize": 134,
                        }
                    }
                    if path.endswith(".safetensors")
                    else {}
                )
                for path, data in sorted(repo.files.items())
            ]
            return JSONResponse({"id": repo_id, "modelId": repo_id, "sha": repo.sha, "private": repo.private,
                                 "gated": repo.gated, "siblings": siblings, "tags": [], "downloads": 0})  # fmt: skip

        def writable(request, repo_id: str) -> Repo | JSONResponse:
            user = self._user(request)
            repo = self.repos.get(repo_id)
            if user is None:
                return error(401, "Invalid credentials in Authorization header")
            if repo is None:
                return error(404, "Repository Not Found", "RepoNotFound")
            if user[0] != repo.owner or user[1] != "write":
                return error(403, "You don't have the rights to write to this repo")
            return repo

        async def preupload(request):
            repo_id = f"{request.path_params['owner']}/{request.path_params['name']}"
            self.requests.append(("POST", f"preupload {repo_id}"))
            repo = writable(request, repo_id)
            if not isinstance(repo, Repo):
                return repo
            body = await request.json()
            lfs = (".safetensors", ".png", ".jpg", ".jpeg", ".webp", ".bin")
            files = [{"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(lfs) else "regular",
                      "shouldIgnore": False, "oid": None} for f in body["files"]]  # fmt: skip
            return JSONResponse({"files": files, "commitOid": repo.sha})

        async def lfs_batch(request):
            repo_id = f"{request.path_params['owner']}/{request.path_params['name'].removesuffix('.git')}"
            self.requests.append(("POST", f"lfs-batch {repo_id}"))
            repo = writable(request, repo_id)
            if not isinstance(repo, Repo):
                return repo
            body = await request.json()
            objects = []
            for obj in body["objects"]:
                if self.refuse_size_over is not None and obj["size"] > self.refuse_size_over:
                    objects.append(
                        {**obj, "error": {"code": 422, "message": "Your file is too large for this account"}}
                    )
                elif obj["oid"] in self.lfs:
                    objects.append({**obj, "authenticated": True})  # already there: nothing to upload
                else:
                    href = f"{self.url}/lfs-upload/{obj['oid']}"
                    objects.append({**obj, "authenticated": True, "actions": {"upload": {"href": href}}})
            return JSONResponse({"transfer": "basic", "objects": objects})

        async def lfs_upload(request):
            oid = request.path_params["oid"]
            data = await request.body()
            self.requests.append(("PUT", f"lfs-upload {oid[:8]}"))
            if self.failing_oid and hashlib.sha256(data).hexdigest() == self.failing_oid:
                self.failing_oid = None
                return Response("Request has expired", status_code=403)
            if hashlib.sha256(data).hexdigest() != oid:
                return Response("checksum mismatch", status_code=400)
            self.lfs[oid] = data
            return Response(status_code=200)

        async def commit(request):
            repo_id = f"{request.path_params['owner']}/{request.path_params['name']}"
            self.requests.append(("POST", f"commit {repo_id}"))
            repo = writable(request, repo_id)
            if not isinstance(repo, Repo):
                return repo
            lines = [
                json.loads(line) for line in (await request.body()).decode().splitlines() if line.strip()
            ]
            staged = dict(repo.files)
            for line in lines:
                value = line["value"]
                if line["key"] == "file":
                    staged[value["path"]] = base64.b64decode(value["content"])
                elif line["key"] == "lfsFile":
                    if value["oid"] not in self.lfs:
                        return error(400, f"LFS object {value['oid']} was not uploaded")
                    staged[value["path"]] = self.lfs[value["oid"]]
                elif line["key"] == "deletedFile":
                    staged.pop(value["path"], None)
            repo.files = staged  # all or nothing: one commit
            repo.sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
            repo.commits.append(lines[0]["value"].get("summary", ""))
            return JSONResponse({"commitUrl": f"{self.url}/{repo_id}/commit/{repo.sha}", "commitOid": repo.sha,
                                 "success": True})  # fmt: skip

        async def settings(request):
            repo_id = f"{request.path_params['owner']}/{request.path_params['name']}"
            self.requests.append(("PUT", f"settings {repo_id}"))
            repo = writable(request, repo_id)
            if not isinstance(repo, Repo):
                return repo
            body = await request.json()
            if "visibility" in body:
                repo.private = body["visibility"] == "private"
            return JSONResponse({})

        async def resolve(request):
            repo_id = f"{request.path_params['owner']}/{request.path_params['name']}"
            path = request.path_params["path"]
            self.requests.append((request.method, f"resolve {repo_id}/{path}"))
            repo = visible(request, repo_id)
            if not isinstance(repo, Repo):
                return repo
            if repo.gated and self._user(request) is None:
                return error(401, f"Access to model {repo_id} is restricted. You must have access to it and be "
                                  "authenticated to access it. Please log in.", "GatedRepo")  # fmt: skip
            if path not in repo.files:
                return error(404, "Entry not found", "EntryNotFound")
            data = repo.files[path]
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                       "Content-Length": str(len(data))}  # fmt: skip
            return Response(b"" if request.method == "HEAD" else data, headers=headers)

        return Starlette(
            routes=[
                Route("/api/whoami-v2", whoami),
                Route("/api/repos/create", create, methods=["POST"]),
                Route("/api/validate-yaml", validate_yaml, methods=["POST"]),
                Route("/api/models/{owner}/{name}", info),
                Route("/api/models/{owner}/{name}/revision/{rev:path}", info),
                Route("/api/models/{owner}/{name}/preupload/{rev}", preupload, methods=["POST"]),
                Route("/api/models/{owner}/{name}/commit/{rev}", commit, methods=["POST"]),
                Route("/api/models/{owner}/{name}/settings", settings, methods=["PUT"]),
                Route("/{owner}/{name}/info/lfs/objects/batch", lfs_batch, methods=["POST"]),
                Route("/lfs-upload/{oid}", lfs_upload, methods=["PUT"]),
                Route("/{owner}/{name}/resolve/{rev}/{path:path}", resolve, methods=["GET", "HEAD"]),
            ]
        )

    def fail_upload(self, data: bytes) -> None:
        """The upload of these bytes is refused once (as an expired upload URL is)."""
        self.failing_oid = hashlib.sha256(data).hexdigest()
