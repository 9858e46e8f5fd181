"""`evaluate CHARACTER [--lora FILE] [--checkpoints all] [--backend …] [--json]`: how much a LoRA's pictures
look like the character, and which of its files looks most like them.
`evaluate CHARACTER --pictures FILES_OR_FOLDERS… [--json]`: score pictures made anywhere the same way."""

from __future__ import annotations

from isengard.cli.common import follow_job, info, print_json
from isengard.cli.generate_cmd import _in_store
from isengard.context import bootstrap
from isengard.errors import JobFailedError
from isengard.evaluation.calibration import in_words, scale_sentence


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="measure how much a LoRA looks like its character (0–100)")
    p.add_argument("character", help="the character's name (or id)")
    p.add_argument("--lora", metavar="FILE", help="a LoRA file (default: the character's newest LoRA)")
    p.add_argument(
        "--checkpoints",
        choices=["final", "all"],
        default="final",
        help="all: also every checkpoint of the newest training, to pick the best step",
    )
    p.add_argument("--backend", help="image backend that draws the probes: diffusers, comfyui or mock")
    p.add_argument("--base", help="base model id (default: the backend's default)")
    p.add_argument(
        "--pictures",
        nargs="+",
        metavar="PATH",
        help="score these pictures (files or folders) instead of drawing probes: made anywhere",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    ctx = bootstrap(console_level="ERROR")
    try:
        if args.pictures:
            return _pictures(ctx, args)
        lora = _in_store(ctx, args.lora) if args.lora else None
        job_id = ctx.evaluation.submit(
            args.character,
            lora=lora,
            everything=args.checkpoints == "all",
            backend=args.backend,
            base=args.base,
        )
        job = follow_job(ctx.runner, job_id, quiet=args.json)
        if job.status != "succeeded":
            raise JobFailedError(
                f"Evaluation {job.status}: {job.error or 'no details'}", hint=f"Job id: {job_id}"
            )
        result = job.result or {}
        if args.json:
            print_json({"job_id": job_id, **result})
            return 0
        for row in result["files"]:
            score = in_words(row["likeness"])
            flags = ", ".join(
                f
                for f, on in (("copies a photo", row["copying"]), ("one face for all", row["collapsed"]))
                if on
            )
            print(f"step {row['step']:>6}  {score:<50}  faces {row['faces']:.0%}  {flags}  {row['file']}")
        info(f"likeness: {result['recommendation']['reason']}")
        info(f"scale: {scale_sentence()}")
        return 0
    finally:
        ctx.close()


def _pictures(ctx, args) -> int:
    job_id = ctx.evaluation.submit_pictures(args.character, args.pictures)
    job = follow_job(ctx.runner, job_id, quiet=args.json)
    if job.status != "succeeded":
        raise JobFailedError(f"Scoring {job.status}: {job.error or 'no details'}", hint=f"Job id: {job_id}")
    report = job.result or {}
    if args.json:
        print_json({"job_id": job_id, **report})
        return 0
    for row in report["rows"]:
        if row.get("problem"):
            print(f"{row['name']}: {row['problem']}")
            continue
        words = in_words(row["likeness"]) if row["face"] else "no face found"
        copy = f"  copies the training photo {row['copies_photo']}" if row.get("copies_photo") else ""
        print(f"{row['name']}: {words}{copy}")
    info(report["summary"])
    for note in report["photo_notes"]:
        info(f"note: the training photo {note['photo']} {note['why']}")
    info(f"scale: {report['scale']}")
    return 0
