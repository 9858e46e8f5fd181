"""`models list|download|import` and `token set|check|clear`: base models and the Hugging Face token."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from isengard.cli.common import follow_job, info, print_json
from isengard.context import bootstrap
from isengard.errors import InputError, JobFailedError
from isengard.models.tokens import mask


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list, download or import base models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    q = msub.add_parser("list", help="the base models and whether they are on disk")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run)
    q = msub.add_parser("download", help="download (or build) a base model now")
    q.add_argument("model")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run)
    q = msub.add_parser(
        "import",
        help="add your own base: a diffusers folder, an SDXL/SD 1.5 .safetensors, or ComfyUI's split files "
        "(a Z-Image, FLUX.2 or Qwen-Image diffusion model, with --text-encoder and --vae if you have them)",
    )
    q.add_argument("path")
    q.add_argument(
        "--text-encoder", help="ComfyUI's text encoder file (models/text_encoders); default: the family's"
    )
    q.add_argument("--vae", help="ComfyUI's VAE file (models/vae); default: the family's own")
    q.add_argument(
        "--like", help="the catalogue model it was made from, when several fit (e.g. zimage or zimage-turbo)"
    )
    q.add_argument("--name", help="how it is shown (default: the file name)")
    q.add_argument("--family", choices=["flux", "sdxl", "sd15"], help="skip detection")
    q.add_argument("--config", help="a diffusers folder or repo whose configs describe this checkpoint")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run)
    q = msub.add_parser("remove", help="forget a model you imported (asks first; says what it deletes)")
    q.add_argument("model", help="its id, as `models list` shows it (custom-…)")
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run)

    t = sub.add_parser("token", help="the Hugging Face token (needed for FLUX.1-dev)")
    tsub = t.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    for name, helptext in (
        ("set", "paste a token (asked for, never echoed)"),
        ("check", "check it against the hub"),
        ("clear", "forget the stored token"),
    ):
        q = tsub.add_parser(name, help=helptext)
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=run_token)


def server_models(ctx) -> list[dict]:
    """The models an image server offers itself (a ComfyUI server's checkpoints), by the name it shows."""
    from pathlib import PurePosixPath

    rows = []
    for plugin in ctx.registry.of_kind("image"):
        for ref in plugin.base_models() or []:
            folder, _, name = ref.source.partition("/")
            rows.append(
                {
                    "id": PurePosixPath(ref.source).name,
                    "label": ref.label or name,
                    "family": ref.family,
                    "status": f"on the {plugin.label or plugin.name} ({folder})",
                    "source": ref.source,
                    "custom": True,
                    "backend": plugin.name,
                    "folder": folder,
                }
            )
    return rows


def run(args) -> int:
    ctx = bootstrap(console_level="ERROR")
    try:
        action = args.models_command
        if action == "list":
            rows = [
                {
                    "id": m.id,
                    "label": m.label,
                    "family": m.family,
                    "status": ctx.models.status(m),
                    "source": m.source,
                    "custom": m.custom,
                    "licence": m.licence,
                    "commercial": m.commercial,
                    "gated": m.gated,
                }
                for m in ctx.catalogue.all()
            ]
            rows += server_models(ctx)
            if args.json:
                print_json({"models": rows})
            else:
                use = {True: "commercial: yes", False: "commercial: no", None: "commercial: ?"}
                for row in rows:
                    print(
                        f"{row['id']:<20} {row['family']:<11} {use[row.get('commercial')]:<16} "
                        f"{row['status']:<34} {row['label']}"
                    )
            return 0
        if action == "download":
            model = ctx.catalogue.get(args.model)
            job_id = ctx.runner.submit("download", {"model": model.id}, title=f"Download {model.label}")
            job = follow_job(ctx.runner, job_id, quiet=args.json)
            if job.status != "succeeded":
                raise JobFailedError(f"Download {job.status}: {job.error}")
            print_json(job.result) if args.json else print(job.result["path"])
            return 0
        if action == "remove":
            return remove(ctx, args)
        model = ctx.models.import_model(
            Path(args.path),
            name=args.name,
            family=args.family,
            config=args.config,
            text_encoder=args.text_encoder,
            vae=args.vae,
            like=args.like,
            progress=None if args.json else (lambda **fields: info(fields.get("message", ""))),
        )
        out = {
            "id": model.id,
            "label": model.label,
            "family": model.family,
            "path": model.source,
            "description": model.description,
        }
        print_json(out) if args.json else print(f"Imported {model.label} as {model.id} ({model.family})")
        return 0
    finally:
        ctx.close()


def remove(ctx, args) -> int:
    model, folders = ctx.models.removal_plan(args.model)
    loras = ctx.db.one("SELECT COUNT(*) AS n FROM loras WHERE base_model=?", (model.id,))["n"]
    what = (
        f"its converted copy ({folder_size(folders[0]) / 1e9:.1f} GB)"
        if folders
        else "only its entry (your own folder stays where it is)"
    )
    message = f"This removes {model.label} from Isengard and deletes {what}."
    if loras:
        message += f" The {loras} LoRA file(s) trained on it are kept, but need it to make pictures."
    if not args.yes:
        if not sys.stdin.isatty():
            raise InputError(message, hint="Add --yes to confirm.")
        if input(f"{message}\nRemove it? [y/N] ").strip().lower() not in ("y", "yes"):
            info("Not removed.")
            return 1
    deleted = ctx.models.remove(model.id)
    out = {"removed": model.id, "deleted": [str(f) for f in deleted], "loras_kept": loras}
    print_json(out) if args.json else print(f"Removed {model.label}.")
    return 0


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_token(args) -> int:
    ctx = bootstrap(console_level="ERROR", start_runner=False)
    try:
        tokens = ctx.tokens
        if args.token_command == "set":
            token = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("Token: ")
            if not token:
                raise InputError("No token given.")
            shown = tokens.set(token)
            print_json({"token": shown}) if args.json else print(f"Saved {shown}")
            return 0
        if args.token_command == "clear":
            tokens.clear()
            print_json({"token": None}) if args.json else print("Token removed.")
            return 0
        verdict = tokens.check("black-forest-labs/FLUX.1-dev")
        out = {
            "token": mask(tokens.get()),
            "source": tokens.source,
            "ok": verdict.ok,
            "message": verdict.message,
        }
        print_json(out) if args.json else print(f"{out['token']} (from {out['source']}): {verdict.message}")
        return 0 if verdict.ok else 7
    finally:
        ctx.close()
