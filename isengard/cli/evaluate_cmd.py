"""`evaluate CHARACTER [--lora FILE] [--checkpoints all] [--backend …] [--json]`: how much a LoRA's pictures
look like the character, and which of its files looks most like them."""

from __future__ import annotations

from isengard.cli.common import follow_job, info, print_json
from isengard.cli.generate_cmd import _in_store
from isengard.context import bootstrap
from isengard.errors import JobFailedError


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
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    ctx = bootstrap(console_level="ERROR")
    try:
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
            score = "no face" if row["likeness"] is None else f"{row['likeness']:.0f}/100"
            flags = ", ".join(
                f
                for f, on in (("copies a photo", row["copying"]), ("one face for all", row["collapsed"]))
                if on
            )
            print(f"step {row['step']:>6}  {score:>8}  faces {row['faces']:.0%}  {flags}  {row['file']}")
        info(f"likeness: {result['recommendation']['reason']}")
        return 0
    finally:
        ctx.close()
