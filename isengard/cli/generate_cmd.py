"""`generate`: make images through the same service and job runner as the Image Gen tab."""

from __future__ import annotations

from isengard.cli.common import follow_job, info, print_json
from isengard.cli.remote import Studio, add_server_argument, finished, server_url
from isengard.context import bootstrap
from isengard.errors import InputError, JobFailedError
from isengard.generation.service import GenerateForm


def add_parser(sub) -> None:
    p = sub.add_parser("generate", help="generate images from a prompt (optionally with a LoRA)")
    p.add_argument("--prompt", required=True, help="what to draw")
    p.add_argument("--negative", default="", help="what to avoid (SD families)")
    p.add_argument("--character", help="use this character's newest LoRA and its trigger word")
    p.add_argument("--lora", action="append", default=[], metavar="PATH", help="a LoRA file (repeatable)")
    p.add_argument("--strength", default=1.0, help="LoRA strength (default 1.0)")
    p.add_argument("--base", help="base model id (see configs/models.yaml)")
    p.add_argument("--backend", help="image backend: diffusers, comfyui or mock")
    p.add_argument("--seed", default=-1, help="seed (default: random, printed afterwards)")
    p.add_argument("--steps")
    p.add_argument("--guidance")
    p.add_argument("--sampler", default="default", help="sampler/scheduler name")
    p.add_argument("--width")
    p.add_argument("--height")
    p.add_argument("--count", default=1, help="number of images")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_server_argument(p)
    p.set_defaults(func=run)


def _in_store(ctx, path: str) -> str:
    """Generation reads LoRAs only from Isengard's own folders: a file from elsewhere is imported first."""
    from pathlib import Path

    resolved = Path(path).expanduser().resolve()
    paths = ctx.paths
    if any(
        resolved.is_relative_to(root.resolve()) for root in (paths.loras, paths.training_runs, paths.uploads)
    ):
        return str(resolved)
    record = ctx.loras.import_file(resolved)
    info(f"Imported {resolved.name} into the LoRA store as {record.name}.")
    return str(record.path)


def run_on_server(args, url: str) -> int:
    """The same request through the studio's API; LoRAs must then be ones the studio has."""
    studio = Studio(url)
    if len(args.lora) > 1:
        raise InputError("With --server, pass one --lora at a time (or use --character).")
    queued = studio.call(
        "generate",
        prompt=args.prompt,
        negative_prompt=args.negative,
        base_model=args.base or "",
        backend=args.backend or "",
        # values go as typed: the studio checks them and answers with the field's sentence
        width=args.width or 0,
        height=args.height or 0,
        steps=args.steps or 0,
        guidance=args.guidance if args.guidance not in (None, "") else -1.0,
        sampler=args.sampler,
        seed=args.seed,
        count=args.count,
        loras=[{"path": path, "strength": args.strength} for path in args.lora],
        character=args.character or "",
    )
    for note in queued.get("notes", []):
        info(f"note: {note}")
    result = finished(studio.follow(queued["job_id"], quiet=args.json), "Generation")
    print_result(args, queued["job_id"], result, queued.get("notes", []))
    return 0


def print_result(args, job_id: str, result: dict, shown_notes: list[str]) -> None:
    if args.json:
        print_json({"job_id": job_id, **result})
        return
    for note in result.get("notes", []):
        if note not in shown_notes:
            info(f"note: {note}")
    for image in result.get("images", []):
        print(image["path"])
    info(f"seed(s): {', '.join(str(i['seed']) for i in result.get('images', []))}")


def run(args) -> int:
    url = server_url(args)
    if url:
        return run_on_server(args, url)
    ctx = bootstrap(console_level="ERROR")
    try:
        form = GenerateForm(
            prompt=args.prompt,
            negative_prompt=args.negative,
            backend=args.backend,
            base_model=args.base,
            loras=[{"path": _in_store(ctx, path), "strength": args.strength} for path in args.lora],
            width=args.width,
            height=args.height,
            steps=args.steps,
            guidance=args.guidance,
            scheduler=args.sampler,
            seed=args.seed,
            count=args.count,
            character_id=ctx.characters.get(args.character).id if args.character else None,
        )
        job_id, prepared = ctx.generation.submit(form)
        for note in prepared.notes:
            info(f"note: {note}")
        job = follow_job(ctx.runner, job_id, quiet=args.json)
        if job.status != "succeeded":
            raise JobFailedError(f"Generation {job.status}: {job.error or 'no details'}")
        print_result(args, job_id, job.result or {}, prepared.notes)
        return 0
    finally:
        ctx.close()
