"""`publish LORA --repo NAME [--public --consent] [--checkpoint STEP] [--json]`: a LoRA to the Hugging Face Hub,
private unless asked, with its model card, samples and likeness report, in one commit.
`import-lora SOURCE [--file NAME] [--json]`: a LoRA from a file, or from the Hub by `owner/name` or address."""

from __future__ import annotations

from pathlib import Path

from isengard.cli.common import follow_job, info, print_json
from isengard.context import bootstrap
from isengard.errors import InputError, JobFailedError
from isengard.hub.importer import parse_source


def add_parser(sub) -> None:
    p = sub.add_parser("publish", help="publish a LoRA to the Hugging Face Hub (private unless --public)")
    p.add_argument("lora", help="the LoRA: its number, its name, or its file")
    p.add_argument(
        "--repo", required=True, help="the Hub repository: NAME (under your account) or OWNER/NAME"
    )
    p.add_argument(
        "--checkpoint", type=int, metavar="STEP", help="publish this checkpoint instead of the final file"
    )
    p.add_argument("--public", action="store_true", help="make the repository public (needs --consent)")
    p.add_argument("--consent", action="store_true", help="the person in the photos agreed to a public LoRA")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_publish)
    q = sub.add_parser("import-lora", help="bring a LoRA in: a .safetensors file or a Hub repo (owner/name)")
    q.add_argument("source", help="a .safetensors file, owner/name, or a huggingface.co address")
    q.add_argument("--file", help="which .safetensors of the repo, when it holds several")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=run_import)


def find_lora(ctx, ref: str):
    if ref.isdigit():
        return ctx.loras.get(int(ref))
    path = Path(ref).expanduser()
    if path.exists():
        found = ctx.loras.by_path(path.resolve())
        if found is None:
            raise InputError(f"{path.name} is not in Isengard's LoRA library; import it first (import-lora).")
        return found
    matches = [r for r in ctx.loras.all() if ref.lower() in (r.name.lower(), ctx.library.label(r).lower())]
    if not matches:
        raise InputError(
            f"There is no LoRA called {ref!r}.", hint="Give its number or file (the studio lists them)."
        )
    return matches[0]


def run_publish(args) -> int:
    ctx = bootstrap(console_level="ERROR")
    try:
        record = find_lora(ctx, args.lora)
        job_id = ctx.hub.submit(
            record.id, args.repo, public=args.public, consent=args.consent, checkpoint=args.checkpoint
        )
        job = follow_job(ctx.runner, job_id, quiet=args.json)
        if job.status != "succeeded":
            raise JobFailedError(
                f"Publishing {job.status}: {job.error or 'no details'}", hint=f"Job id: {job_id}"
            )
        result = job.result or {}
        if args.json:
            print_json({"job_id": job_id, **result})
        else:
            private = "private" if result.get("private") else "public"
            info(f"Published to {result['url']} ({private}): {', '.join(result['files'])}.")
        return 0
    finally:
        ctx.close()


def run_import(args) -> int:
    ctx = bootstrap(console_level="ERROR", start_runner=False)
    try:
        path = Path(args.source).expanduser()
        if path.exists():
            record = ctx.loras.import_file(path.resolve())
        elif parse_source(args.source):
            record = ctx.hub_import.bring_in(args.source, args.file)
        else:
            raise InputError(f"{args.source} is neither a file nor a Hub repository (owner/name).")
        if args.json:
            print_json(
                {"lora_id": record.id, "name": record.name, "family": record.family, "path": str(record.path)}
            )
        else:
            info(f"Imported {record.name} ({record.family}).")
        return 0
    finally:
        ctx.close()
