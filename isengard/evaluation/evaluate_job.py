"""Evaluate any LoRA: draw the probe set through an image backend (the built-in one, a ComfyUI server,
the fast-test placeholders) with each LoRA file, score the pictures against the character's photos and
recommend the file that looks most like them — for a LoRA trained here, by ai-toolkit, or imported.
The probes are kept with the job's run folder, not in the picture history."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from isengard.errors import InputError, NotAvailableError
from isengard.evaluation.pictures import picture_files, score_pictures
from isengard.evaluation.probes import probe_prompts
from isengard.evaluation.watch import LikenessWatch, load_summaries
from isengard.generation.service import GenerateForm
from isengard.jobs.forwarding import ForwardingContext
from isengard.jobs.placement import run_plugin
from isengard.storage.files import atomic_save

PROBE_SEED = 1000  # probe i is drawn with seed 1000 + i, for every file alike


class _InnerContext(ForwardingContext):
    """The job's context for the image backend: its own step counts stay out of the evaluation's progress."""

    def progress(self, **fields: Any) -> None:
        kept = {k: v for k, v in fields.items() if k in ("preview",)}
        if kept:
            self._ctx.progress(**kept)

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)


class EvaluationService:
    def __init__(self, *, paths, registry, runner, characters, loras, generation):
        self.paths = paths
        self.registry = registry
        self.runner = runner
        self.characters = characters
        self.loras = loras
        self.generation = generation
        runner.register("evaluate", self._run, uses_gpu=True)
        runner.register("score_pictures", self._score_pictures, uses_gpu=False)

    def evaluator(self):
        plugin = self.registry.first_available("evaluation")
        if plugin is not None:
            return plugin
        raise NotAvailableError("No face model can run here, so the likeness cannot be measured.")

    def files_for(self, character, lora: str | None, everything: bool) -> list[dict[str, Any]]:
        """The files to evaluate: one given file, or the newest training's final (and its checkpoints)."""
        if lora:
            path = Path(lora).expanduser().resolve()
            record = self.loras.by_path(path)
            return [
                {"path": str(path), "step": record.step if record and record.step else 1, "name": path.name}
            ]
        newest = self.loras.newest_for_character(character.id)
        if newest is None:
            raise InputError(f"{character.name} has no trained LoRA yet: train one or pass --lora FILE.")
        records = [newest]
        if everything:
            records += [
                r
                for r in self.loras.for_character(character.id, kinds=("checkpoint",))
                if r.job_id == newest.job_id
            ]
        files = [
            {"path": str(r.path), "step": r.step or 0, "name": r.name} for r in records if r.path.exists()
        ]
        return sorted(files, key=lambda f: f["step"])

    def submit(
        self, character_ref, *, lora: str | None = None, everything: bool = False, backend=None, base=None
    ) -> str:
        character = self.characters.get(character_ref)
        self.evaluator()  # say now, not in the job, when no face model can run
        files = self.files_for(character, lora, everything)
        for entry in files:  # every file checked as a generation would check it, before anything runs
            self.generation.prepare(self._form(character, entry, backend, base, 0))
        return self.runner.submit(
            "evaluate",
            {"character_id": character.id, "files": files, "backend": backend, "base_model": base},
            title=f"Measure how much {character.name}'s LoRA looks like them",
        )

    def submit_pictures(self, character_ref, pictures: list[str | Path]) -> str:
        """Score pictures made anywhere against the character's photos (a CPU job: no image is drawn)."""
        character = self.characters.get(character_ref)
        self.evaluator()
        files = picture_files(pictures)
        if not self.characters.dataset(character.id):
            raise InputError(
                f"{character.name} has no photos to compare the pictures with.", field="pictures"
            )
        return self.runner.submit(
            "score_pictures",
            {"character_id": character.id, "pictures": [str(f) for f in files]},
            title=f"Score {len(files)} picture{'s' if len(files) != 1 else ''} against {character.name}",
        )

    def _score_pictures(self, ctx, params: dict[str, Any]) -> dict[str, Any]:
        character = self.characters.get(params["character_id"])
        pictures = [Path(p) for p in params["pictures"]]

        def progress(done: int, total: int) -> None:
            ctx.check_cancelled()
            ctx.progress(
                phase="scoring", step=done, total=total, message=f"Scoring picture {done + 1} of {total}"
            )

        report = score_pictures(
            self.evaluator(),
            [item.image for item in self.characters.dataset(character.id)],
            pictures,
            character.name,
            progress,
            self.characters.photo_names(character.id),
        )
        ctx.log("likeness.pictures_scored", report["summary"], pictures=len(pictures), faces=report["faces"])
        return report

    @staticmethod
    def _form(character, entry, backend, base, index: int) -> GenerateForm:
        return GenerateForm(
            prompt=probe_prompts(character.trigger_word, character.class_word)[index],
            backend=backend,
            base_model=base,
            loras=[{"path": entry["path"], "strength": 1.0}],
            seed=PROBE_SEED + index,
        )

    def _run(self, ctx, params: dict[str, Any]) -> dict[str, Any]:
        character = self.characters.get(params["character_id"])
        prompts = probe_prompts(character.trigger_word, character.class_word)
        watch = LikenessWatch(
            db=self.runner.db,
            evaluator=self.evaluator(),
            job_id=ctx.job_id,
            photos=[item.image for item in self.characters.dataset(character.id)],
            prompts=prompts,
            name=character.name,
            photo_names=self.characters.photo_names(character.id),
        )
        folder = self.paths.training_run_dir(ctx.job_id) / "probes"
        files, started = params["files"], time.monotonic()
        for number, entry in enumerate(files, start=1):
            pictures = []
            for index in range(len(prompts)):
                ctx.check_cancelled()
                ctx.progress(
                    phase="generating",
                    step=(number - 1) * len(prompts) + index,
                    total=len(files) * len(prompts),
                    message=f"Drawing probe {index + 1} of {len(prompts)} with {entry['name']} ({number} of {len(files)})",
                )
                prepared = self.generation.prepare(
                    self._form(character, entry, params.get("backend"), params.get("base_model"), index)
                )
                inner = _InnerContext(ctx)
                backend, _, _, request = self.generation.build_request(prepared.form, inner)
                image = run_plugin(backend, request, inner).images[0].image
                target = folder / f"step{entry['step']:09d}_{index}.png"
                atomic_save(target, image.save)
                pictures.append(str(target))
            scored = watch.on_samples(entry["step"], pictures)
            ctx.progress(likeness=scored, message=f"Scored {entry['name']}")
        recommendation = watch.recommend({f["step"] for f in files})
        by_step = {f["step"]: f["path"] for f in files}
        recommendation["file"] = by_step.get(recommendation["step"]) if recommendation["step"] else None
        summaries = load_summaries(self.runner.db, ctx.job_id)
        for entry in files:  # each file's report can be found from the LoRA list later
            record = self.loras.by_path(Path(entry["path"]))
            if record is not None:
                self.loras.update_metadata(record.id, likeness_job=ctx.job_id, likeness_step=entry["step"])
        return {
            "character": character.name,
            "files": [
                {
                    "file": f["path"],
                    "step": f["step"],
                    "likeness": next(
                        (
                            round(s.median_likeness, 1)
                            for s in summaries
                            if s.step == f["step"] and s.median_likeness is not None
                        ),
                        None,
                    ),
                    "faces": next((round(s.face_share, 2) for s in summaries if s.step == f["step"]), 0),
                    "copying": any(s.copying for s in summaries if s.step == f["step"]),
                    "collapsed": any(s.collapsed for s in summaries if s.step == f["step"]),
                }
                for f in files
            ],
            "recommendation": recommendation,
            "seconds": round(time.monotonic() - started, 2),
        }
