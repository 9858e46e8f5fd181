"""Publish a LoRA to the Hugging Face Hub, as a job: the LoRA file (the final one or a chosen checkpoint), its
model card as the repo's README.md, up to four samples and the likeness report — in **one commit**, so a
failure half-way publishes nothing and Publish again picks up (files already uploaded are not sent twice).
Private unless the person makes it public, which asks once whether the person in the photos agreed.
Uses the Hugging Face token saved in Settings; every refusal is one sentence (hub/errors.py)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from isengard.errors import InputError
from isengard.hub.errors import PublishError, publish_sentence
from isengard.obs import event

REPO_NAME = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")
CONSENT = "The person in the photos agreed to this LoRA of their likeness being public."


class Counting(io.BufferedIOBase):
    """A file that reports how many bytes were read from it on its way up (its second pass: the first is
    huggingface_hub hashing it). Files given this way go up over plain HTTP (LFS), not Xet."""

    def __init__(self, path: Path, on_read):
        self._file = open(path, "rb")  # noqa: SIM115 - closed with this object, after the commit
        self._size = path.stat().st_size
        self._on_read = on_read
        self._pass = 0
        self._at_end = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._file.seek(offset, whence)
        if position == 0 and self._at_end:
            self._pass, self._at_end = self._pass + 1, False
        return position

    def tell(self) -> int:
        return self._file.tell()

    def _count(self, count: int) -> None:
        if self._file.tell() >= self._size:
            self._at_end = True
        if self._pass >= 1 and count:
            self._on_read(count)

    def read(self, size: int | None = -1) -> bytes:
        data = self._file.read(-1 if size is None else size)
        self._count(len(data))
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer) -> int:
        count = self._file.readinto(buffer)
        self._count(count or 0)
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


class HubPublisher:
    def __init__(self, *, runner, library, store, tokens, endpoint: str | None):
        self.runner = runner
        self.library = library
        self.store = store
        self.tokens = tokens
        self.endpoint = endpoint
        runner.register("publish", self._run, uses_gpu=False)

    # asking ---------------------------------------------------------------------------------------------
    def submit(
        self,
        lora_id: int,
        repo: str,
        *,
        public: bool = False,
        consent: bool = False,
        checkpoint: int | None = None,
    ) -> str:
        record = self.store.get(int(lora_id))
        name = (repo or "").strip().removeprefix("https://huggingface.co/").strip("/")
        if not REPO_NAME.match(name):
            raise InputError(
                "Give the Hub repository a name of letters, digits, '-', '_' or '.', like ada-lora (or you/ada-lora).",
                field="repo",
            )
        if public and not consent:
            raise InputError(
                "A public LoRA shares a real person's likeness with everyone: tick that they agreed first, or "
                "keep it private.",
                field="consent",
            )
        if not self.tokens.get():
            raise InputError(
                "Publishing needs a Hugging Face token with write access: paste one in Settings first.",
                field="repo",
            )
        path = self._file(record, checkpoint)
        title = self.library.label(record)
        job_id = self.runner.submit(
            "publish",
            {
                "lora_id": record.id,
                "repo": name,
                "public": bool(public),
                "file": str(path),
                "checkpoint": checkpoint,
            },
            title=f"Publish {title} to the Hub",
        )
        event("hub.publish_submitted", f"publishing {record.name} as {name}", job_id=job_id, public=public)
        return job_id

    def _file(self, record, checkpoint: int | None) -> Path:
        if checkpoint is None:
            return record.path
        for kept in self.library.checkpoints(record):
            if kept.step == int(checkpoint):
                return kept.path
        steps = ", ".join(str(c.step) for c in self.library.checkpoints(record)) or "none"
        raise InputError(f"There is no checkpoint at step {checkpoint} (kept: {steps}).", field="checkpoint")

    # running --------------------------------------------------------------------------------------------
    def _run(self, ctx, params: dict[str, Any]) -> dict[str, Any]:
        from huggingface_hub import CommitOperationAdd, HfApi

        record = self.store.get(int(params["lora_id"]))
        api = HfApi(endpoint=self.endpoint, token=self.tokens.get())
        ctx.progress(phase="preparing", message="Checking your Hugging Face token")
        try:
            who = api.whoami()
            role = ((who.get("auth") or {}).get("accessToken") or {}).get("role")
            if role == "read":
                raise PublishError(
                    "Your Hugging Face token can only read: create one with write access and paste it in Settings."
                )
            repo_id = params["repo"] if "/" in params["repo"] else f"{who['name']}/{params['repo']}"
            ctx.log("hub.call", f"create_repo {repo_id}", repo=repo_id, private=not params["public"])
            url = api.create_repo(repo_id, private=not params["public"], exist_ok=True)
            private = bool(api.model_info(repo_id).private)  # an existing repo keeps what it was…
            if params["public"] and private:  # …unless the person asked, with consent, for public
                ctx.log("hub.call", f"update_repo_settings {repo_id}: public", repo=repo_id)
                api.update_repo_settings(repo_id, private=False)
                private = False
            files, total = self._files(record, Path(params["file"]))
            done, counting = [0], threading.Lock()
            started = time.monotonic()

            def on_read(count: int) -> None:  # from huggingface_hub's upload threads
                with counting:
                    done[0] += count
                rate = done[0] / max(1e-6, time.monotonic() - started)
                ctx.progress(
                    phase="uploading",
                    step=min(done[0], total),
                    total=total,
                    eta_s=(total - done[0]) / rate if rate > 0 and total > done[0] else None,
                    message=f"Uploading to {repo_id}: {done[0] / 1e6:.1f} of {total / 1e6:.1f} MB",
                )

            operations, opened = [], []
            for name, content in files:
                if isinstance(content, Path):
                    handle = Counting(content, on_read)
                    opened.append(handle)
                    operations.append(CommitOperationAdd(path_in_repo=name, path_or_fileobj=handle))
                else:
                    operations.append(CommitOperationAdd(path_in_repo=name, path_or_fileobj=content))
            ctx.log(
                "hub.call", f"create_commit {repo_id} ({len(operations)} files)", repo=repo_id, bytes=total
            )
            try:
                commit = api.create_commit(
                    repo_id, operations, commit_message=f"Publish {self.library.label(record)} from Isengard"
                )
            finally:
                for handle in opened:
                    handle.close()
        except PublishError:
            raise
        except Exception as exc:
            sentence = publish_sentence(exc, params["repo"])
            ctx.log(
                "hub.publish_failed",
                f"{sentence} ({type(exc).__name__}: {str(exc)[:300]})",
                level="WARNING",
                traceback=traceback.format_exc()[-4000:],
            )
            raise PublishError(sentence) from None
        page = str(url).rstrip("/")
        published = {"repo": repo_id, "url": page, "private": private, "commit": commit.oid,
                      "at": time.time(), "file": Path(params["file"]).name}  # fmt: skip
        self.store.update_metadata(record.id, published=published)
        event("hub.published", f"{record.name} published as {repo_id}", job_id=ctx.job_id, **published)
        ctx.progress(message=f"Published to {repo_id}" + (" (private)" if private else " (public)"))
        return published | {"files": [name for name, _ in files], "bytes": total}

    def _files(self, record, lora: Path) -> tuple[list[tuple[str, Any]], int]:
        """What goes up: (path in the repo, a file or bytes), and the bytes of the files."""
        from isengard.evaluation.watch import report
        from isengard.training.library import CARD_SAMPLES

        samples = self.library.samples(record)
        last = max((step for step, _ in samples), default=None)
        chosen = [Path(p) for step, p in samples if step == last][:CARD_SAMPLES]
        names = [f"sample_{i + 1}{p.suffix}" for i, p in enumerate(chosen)]
        file_name = f"{record.name}.safetensors"
        card = self.library.model_card(record.id, names, file_name=file_name)
        files: list[tuple[str, Any]] = [(file_name, lora), ("README.md", card.encode())]
        files += [(f"samples/{name}", path) for name, path in zip(names, chosen, strict=True)]
        if record.job_id:
            likeness = report(self.store.db, record.job_id)
            if likeness["steps"]:
                files.append(("likeness_report.json", json.dumps(likeness, indent=1).encode()))
        total = sum(content.stat().st_size for _, content in files if isinstance(content, Path))
        return files, total
