"""The LoRA library a person sees: finished LoRAs with human names ("Ada — 1 Dec, 1,500 steps, FLUX.2
[klein]"), their checkpoints folded under them, rename, notes, delete (saying what goes), and a download
that carries a small model card — the same card a later "publish to Hugging Face" uses.

Names and notes live in the LoRA's metadata; the file names on disk never change (they are never reused).
"""

from __future__ import annotations

import html
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isengard.errors import InputError
from isengard.obs import event
from isengard.storage.files import atomic_save
from isengard.training.store import LoraRecord, LoraStore
from plugins.families import FAMILY_LABELS

TITLE_MAX = 80
NOTES_MAX = 2000
CARD_SAMPLES = 4


@dataclass(frozen=True)
class DeletePlan:
    record: LoraRecord
    files: list[Path]  # the LoRA and, for a trained one, its checkpoints
    bytes: int

    def sentence(self) -> str:
        others = len(self.files) - 1
        extra = f" and its {others} checkpoint{'s' if others != 1 else ''}" if others else ""
        return (
            f"This deletes the LoRA file{extra} ({self.bytes / 1e6:.1f} MB). Pictures made with it are kept."
        )


def _clean(text: str | None, limit: int, what: str, *, required: bool) -> str:
    value = unicodedata.normalize("NFC", (text or "").strip())
    if required and not value:
        raise InputError(f"Give the {what} a name.", field=what)
    if len(value) > limit:
        raise InputError(f"Keep the {what} under {limit} characters (it has {len(value)}).", field=what)
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise InputError(f"The {what} contains invisible control characters; please retype it.", field=what)
    return value


class LoraLibrary:
    def __init__(self, store: LoraStore, runner, catalogue, training=None):
        self.store = store
        self.runner = runner
        self.catalogue = catalogue
        self.training = training

    # reading ------------------------------------------------------------------------------------------
    def steps(self, record: LoraRecord) -> int | None:
        if record.kind == "checkpoint":
            return record.step
        job = self.runner.get(record.job_id) if record.job_id else None
        total = ((job.params or {}).get("params") or {}).get("steps") if job else None
        return int(total) if total else record.step

    def base_label(self, record: LoraRecord) -> str:
        if record.base_model in self.catalogue.ids():
            return self.catalogue.get(record.base_model).label
        return FAMILY_LABELS.get(record.family, record.family)

    @staticmethod
    def name_of(record: LoraRecord) -> str:
        """The LoRA's name: the one the person gave it, else its person's (what Rename starts from)."""
        return record.metadata.get("title") or record.character_name or record.name

    def label(self, record: LoraRecord) -> str:
        """'Ada — 1 Dec, 1,500 steps, FLUX.2 [klein]'; a name the person gave replaces the first part."""
        who = self.name_of(record)
        when = time.strftime("%-d %b", time.localtime(record.created_at))
        steps = self.steps(record)
        parts = [when]
        if record.kind == "checkpoint":
            parts.append(f"checkpoint at step {steps:,}" if steps else "checkpoint")
        elif steps:
            parts.append(f"{steps:,} steps")
        if record.kind == "imported":
            parts.append("imported")
        parts.append(FAMILY_LABELS.get(record.family, record.family))
        return f"{who} — {', '.join(parts)}"

    def finished(self, character_id: int | None = None) -> list[LoraRecord]:
        """Finished and imported LoRAs, newest first (a running training's checkpoints are not here)."""
        if character_id:
            return self.store.for_character(int(character_id), kinds=("final",))
        return self.store.all(kinds=("final", "imported"))

    def checkpoints(self, record: LoraRecord) -> list[LoraRecord]:
        if not record.job_id or record.kind != "final":
            return []
        found = [r for r in self.store.for_job(record.job_id) if r.kind == "checkpoint"]
        return sorted(found, key=lambda r: r.step or 0)

    def samples(self, record: LoraRecord) -> list[tuple[int, str]]:
        if not record.job_id or self.training is None:
            return []
        return [(step, path) for step, path in self.training.samples(record.job_id) if Path(path).exists()]

    # changing -----------------------------------------------------------------------------------------
    def rename(self, lora_id: int, title: str) -> LoraRecord:
        value = _clean(title, TITLE_MAX, "LoRA", required=True)
        self.store.update_metadata(int(lora_id), title=value)
        event("lora.renamed", f"LoRA #{lora_id} renamed", lora_id=int(lora_id))
        return self.store.get(int(lora_id))

    def set_notes(self, lora_id: int, notes: str) -> LoraRecord:
        value = _clean(notes, NOTES_MAX, "notes", required=False)
        self.store.update_metadata(int(lora_id), notes=value)
        event("lora.notes", f"notes of LoRA #{lora_id} saved", lora_id=int(lora_id))
        return self.store.get(int(lora_id))

    def delete_plan(self, lora_id: int) -> DeletePlan:
        record = self.store.get(int(lora_id))
        files = [record.path, *[c.path for c in self.checkpoints(record)]]
        files = [f for f in files if f.exists()]
        return DeletePlan(record, files, sum(f.stat().st_size for f in files))

    def delete(self, lora_id: int) -> DeletePlan:
        plan = self.delete_plan(lora_id)
        gone = [plan.record, *self.checkpoints(plan.record)]
        for record in gone:
            self.store.db.execute("DELETE FROM loras WHERE id=?", (record.id,))  # first: never a dangling row
            record.path.unlink(missing_ok=True)
        event("lora.deleted", f"LoRA #{lora_id} deleted", lora_id=int(lora_id), files=len(plan.files))
        return plan

    # sharing ------------------------------------------------------------------------------------------
    def model_card(self, lora_id: int, sample_names: list[str] = (), *, file_name: str | None = None) -> str:
        """A Hugging Face model card (README.md): the Hub's metadata header, then what it is, the trigger
        word, the base and its licence, what made it, the likeness, the samples."""
        from isengard import __version__
        from isengard.hub.card import front_matter

        record = self.store.get(int(lora_id))
        model = self.catalogue.get(record.base_model) if record.base_model in self.catalogue.ids() else None
        title = record.metadata.get("title") or record.character_name or record.name
        family = FAMILY_LABELS.get(record.family, record.family)
        licence = model.licence_note.removeprefix("Licence: ") if model else "see the base model's own page"
        base_repo = model.source if model and not model.custom and not model.tiny else ""
        prompts = self.sample_prompts(record)
        widgets = [(prompts[i % len(prompts)], f"samples/{name}") for i, name in enumerate(sample_names)]
        front = front_matter(
            family=record.family,
            base_repo=base_repo,
            licence=model.licence if model else None,
            trigger=record.trigger_word,
            widgets=widgets,
        )
        steps = self.steps(record)
        rank = record.metadata.get("isengard_rank") or record.metadata.get("rank")
        made = f"Isengard {__version__} · {family}" + (f" · {steps:,} steps" if steps else "")
        lines = [
            front,
            "",
            f"# {title}",
            "",
            f"A {family} LoRA of one person's likeness, trained with Isengard.",
            "",
            f"* **Trigger word:** `{record.trigger_word}` — put it in the prompt to bring the person in."
            if record.trigger_word
            else "* **Trigger word:** none recorded",
            f"* **Base model:** {self.base_label(record)}" + (f" (`{base_repo}`)" if base_repo else ""),
            f"* **Licence of the base model:** {licence}. The LoRA is used under the base model's terms.",
            f"* **Training:** {steps:,} steps" if steps else "* **Training:** imported file",
            f"* **File:** `{file_name or record.path.name}` (works in Isengard, diffusers, ComfyUI and A1111/Forge)",
            f"* **Made with:** {made}" + (f" · rank {rank}" if rank else ""),
        ]
        lines += self.likeness_lines(record)
        notes = record.metadata.get("notes")
        if notes:
            lines += ["", "## Notes", "", html.escape(notes)]
        if sample_names:
            lines += ["", "## Samples", ""]
            lines += [f"![sample {i + 1}](samples/{name})" for i, name in enumerate(sample_names)]
        lines += ["", "Only use a likeness LoRA of a person who agreed to it."]
        return "\n".join(lines) + "\n"

    def sample_prompts(self, record: LoraRecord) -> list[str]:
        """The prompts its samples were drawn with (the training's own, else the probe set)."""
        from isengard.evaluation.probes import probe_prompts

        job = self.runner.get(record.job_id) if record.job_id else None
        chosen = (job.params.get("sample_prompts") if job else None) or []
        return list(chosen) or probe_prompts(record.trigger_word or "the person")

    def likeness_lines(self, record) -> list[str]:
        """The card's likeness section: each scored checkpoint in words, with its faces and flags."""
        from isengard.evaluation.calibration import in_words, scale_sentence
        from isengard.evaluation.likeness import flag_words
        from isengard.evaluation.watch import load_summaries

        summaries = (
            [s for s in load_summaries(self.store.db, record.job_id) if s.step > 0] if record.job_id else []
        )
        if not summaries:
            return []
        lines = [
            "",
            "## Likeness",
            "",
            "| step | likeness | faces | signs of over-training |",
            "|---|---|---|---|",
        ]
        for s in summaries:
            flags = flag_words(s) if s.flagged else "none"
            lines.append(f"| {s.step:,} | {in_words(s.score)} | {s.faces} of {len(s.probes)} | {flags} |")
        recommendation = (record.metadata.get("recommendation") or {}).get("reason")
        if recommendation:
            lines += ["", f"Recommended: {recommendation}"]
        if record.metadata.get("early_stop"):
            lines += ["", record.metadata["early_stop"]]
        lines += ["", f"Scale: {scale_sentence()}"]
        return lines

    def bundle(self, lora_id: int, folder: Path) -> Path:
        """A zip with the LoRA, its README model card and up to four samples of its last step."""
        record = self.store.get(int(lora_id))
        samples = self.samples(record)
        last = max((step for step, _ in samples), default=None)
        chosen = [Path(p) for step, p in samples if step == last][:CARD_SAMPLES]
        names = [f"sample_{i + 1}{p.suffix}" for i, p in enumerate(chosen)]
        card = self.model_card(record.id, names)
        stem = record.path.stem
        import hashlib

        key = hashlib.sha256(f"{card}{record.path.stat().st_mtime_ns}{names}".encode()).hexdigest()[:10]
        target = Path(folder) / f"{stem}-{key}.zip"
        if target.exists():  # the same file and card: the zip made before
            return target

        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.write(record.path, f"{stem}/{record.path.name}")
                archive.writestr(f"{stem}/README.md", card)
                for name, path in zip(names, chosen, strict=True):
                    archive.write(path, f"{stem}/samples/{name}")

        atomic_save(target, write)
        event("lora.bundled", f"{record.name} bundled with its model card", lora_id=record.id)
        return target


def describe(library: LoraLibrary, record: LoraRecord) -> dict[str, Any]:
    """The facts the library card shows."""
    return {
        "label": library.label(record),
        "trigger": record.trigger_word,
        "base": library.base_label(record),
        "steps": library.steps(record),
        "notes": record.metadata.get("notes", ""),
        "checkpoints": library.checkpoints(record),
    }
