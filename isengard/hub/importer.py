"""Bring a LoRA in from the Hugging Face Hub by its repo name (`owner/name`) or page address: its
`.safetensors` files are listed with their sizes; with one it is taken, with several the person picks; it is
downloaded with the saved token (gated and private repos), then imported as a file is — the family read from
the weights."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from isengard.errors import InputError
from isengard.hub.errors import PublishError
from isengard.obs import event
from isengard.words import size_words

HUB_PAGE = re.compile(
    r"^(?:https?://[^/]+/)?(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)"
    r"(?:/(?:blob|resolve|tree)/[^/]+(?:/(?P<file>.+))?)?/?$"
)


def parse_source(text: str) -> tuple[str, str | None] | None:
    """`owner/name`, or a Hub page or file address → (repo, file or None); None when it is neither."""
    found = HUB_PAGE.match((text or "").strip())
    if not found or (text.strip().startswith(("/", ".", "~")) and "://" not in text):
        return None
    return found["repo"], found["file"]


class HubImporter:
    def __init__(self, *, store, tokens, endpoint: str | None, tmp_dir: Path):
        self.store = store
        self.tokens = tokens
        self.endpoint = endpoint
        self.tmp_dir = Path(tmp_dir)

    def files(self, repo: str) -> list[tuple[str, int | None]]:
        """The LoRA-sized `.safetensors` files of a repo, with their sizes."""
        from huggingface_hub import HfApi

        try:
            info = HfApi(endpoint=self.endpoint).model_info(
                repo, token=self.tokens.get(), files_metadata=True
            )
        except Exception as exc:
            raise PublishError(self._sentence(exc, repo)) from None
        found = [(s.rfilename, s.size) for s in info.siblings or [] if s.rfilename.endswith(".safetensors")]
        if not found:
            raise InputError(f"{repo} holds no .safetensors file to import.", field="hub_repo")
        return found

    def bring_in(self, source: str, file: str | None = None):
        """The LoRA record; InputError listing the choices when the repo holds several files."""
        from huggingface_hub import hf_hub_download

        parsed = parse_source(source)
        if parsed is None:
            raise InputError("Give a Hub repository as owner/name, like ostris/some-lora.", field="hub_repo")
        repo, file = parsed[0], file or parsed[1]
        if file is None:
            files = self.files(repo)
            if len(files) > 1:
                listed = "; ".join(f"{name} ({size_words(size)})" for name, size in files)
                raise InputError(
                    f"{repo} holds {len(files)} LoRA files: pick one — {listed}.", field="hub_file"
                )
            file = files[0][0]
        event("hub.import_started", f"downloading {repo}/{file}", repo=repo, file=file)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.tmp_dir, prefix="hub-") as folder:
            try:
                path = hf_hub_download(
                    repo, file, token=self.tokens.get(), endpoint=self.endpoint, local_dir=folder
                )
            except Exception as exc:
                raise PublishError(self._sentence(exc, repo)) from None
            record = self.store.import_file(Path(path), name=f"{repo.split('/')[1]}-{Path(file).stem}")
        self.store.update_metadata(record.id, source=f"hub:{repo}/{file}")
        event("hub.imported", f"{repo}/{file} imported", repo=repo, file=file, lora_id=record.id)
        return self.store.get(record.id)

    def _sentence(self, exc: BaseException, repo: str) -> str:
        name = type(exc).__name__
        if name == "GatedRepoError":
            return (
                f"{repo} is gated: accept its terms on its Hugging Face page while logged in, and paste a token "
                "in Settings."
                if not self.tokens.get()
                else f"Your token cannot open {repo} yet: accept its terms on its Hugging Face page first."
            )
        if (
            name in ("RepositoryNotFoundError",)
            or getattr(getattr(exc, "response", None), "status_code", 0) == 404
        ):
            return f"There is no {repo} on the Hub (or it is private and your token cannot see it)."
        if name == "EntryNotFoundError":
            return f"{repo} has no such file."
        if name == "OfflineModeIsEnabled" or "Connect" in f"{name} {exc}":
            return "Could not reach the Hugging Face Hub (no internet?)."
        return f"The Hub could not give {repo}: {str(exc)[:160]}"
