"""`character create|list|show|add-photos|caption|set-caption|check|crop|rename|set-trigger|delete`."""

from __future__ import annotations

import sys
from pathlib import Path

from isengard.cli.common import follow_job, info, print_json
from isengard.context import bootstrap
from isengard.errors import InputError, JobFailedError


def add_parser(sub) -> None:
    p = sub.add_parser("character", help="create characters, add photos, check and caption them")
    csub = p.add_subparsers(dest="character_command", metavar="ACTION", required=True)

    def action(name: str, helptext: str, *, ref: bool = True):
        q = csub.add_parser(name, help=helptext)
        if ref:
            q.add_argument("name", help="the character's name (or id)")
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.set_defaults(func=run)
        return q

    q = action("create", "create a character (optionally with photos)")
    q.add_argument("--trigger", help="trigger word (default: a distinctive one made from the name)")
    q.add_argument(
        "--class-word", default="person", help="what the subject is: woman, man, person… (default person)"
    )
    q.add_argument(
        "--photos", nargs="*", default=[], metavar="FILE", help="photos (or folders of photos) to add"
    )
    q.add_argument("--no-check", action="store_true", help="skip the dataset checks")
    action("list", "all characters", ref=False)
    action("show", "a character with its photos and dataset report")
    q = action("add-photos", "add photos to a character")
    q.add_argument("photos", nargs="+", metavar="FILE", help="photos, or folders of photos")
    q.add_argument("--no-check", action="store_true", help="skip the dataset checks")
    q = action("caption", "caption every photo")
    q.add_argument(
        "--captioner",
        help="template (instant), florence2 or blip (models); default: florence2 when its weights are here",
    )
    q.add_argument(
        "--template", help="for the template captioner, e.g. 'a photo of {trigger}, a {class_word}'"
    )
    q.add_argument("--all", action="store_true", help="also replace captions you edited by hand")
    q = action("set-caption", "set one photo's caption")
    q.add_argument("photo_id", type=int)
    q.add_argument("text")
    action("check", "run the dataset checks again")
    action("crop", "auto-crop every photo around its face (originals are kept)")
    q = action("rename", "rename a character")
    q.add_argument("new_name")
    q = action("set-trigger", "change the trigger word (captions are updated)")
    q.add_argument("trigger")
    q = action("delete", "delete a character and its photos (LoRAs are kept unless --with-loras)")
    q.add_argument("--with-loras", action="store_true", help="also delete the character's trained LoRAs")
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args) -> int:
    ctx = bootstrap(console_level="ERROR")
    try:
        return _dispatch(ctx, args)
    finally:
        ctx.close()


def _report_dict(ctx, ref) -> dict:
    state, reports = ctx.characters.report(ref)
    photos = ctx.characters.photos(ref)
    return {
        "readiness": state.to_dict(),
        "photos": [
            p.to_dict()
            | {"badges": reports[p.id].badges(), "flags": [f.__dict__ for f in reports[p.id].flags]}
            for p in photos
        ],
    }


def _print_report(ctx, ref) -> None:
    data = _report_dict(ctx, ref)
    state = data["readiness"]
    print(f"Readiness: {state['status']} — {state['headline']}")
    for fix in state["fixes"]:
        print(f"  • {fix}")
    for photo in data["photos"]:
        print(f"  #{photo['id']:<4} {photo['original_name'][:32]:<32} {photo['badges']}")
        print(f"        caption: {photo['caption']}")


def _run_job(ctx, job_id: str, quiet: bool) -> dict:
    job = follow_job(ctx.runner, job_id, quiet=quiet)
    if job.status != "succeeded":
        raise JobFailedError(f"{job.title} {job.status}: {job.error or 'no details'}")
    return job.result or {}


PHOTO_SUFFIXES = {
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".mpo",
    ".heic",
    ".heif",
    ".avif",
    ".gif",
    ".tif",
    ".tiff",
    ".bmp",
}


def expand_photo_args(args: list[str], notes: list[str] | None = None) -> list[Path]:
    """Files as given; a folder stands for the pictures in it (not its captions or other files). What a
    folder holds that is not taken — a folder inside it, another kind of file — is said in `notes`."""
    out: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found, left = [], []
            for p in sorted(path.iterdir()):
                if p.name.startswith("."):
                    continue
                if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES:
                    found.append(p)
                elif p.is_dir():
                    left.append(
                        f"the folder {p.name!r} inside {path.name!r} (add it separately to use its photos)"
                    )
                elif p.suffix.lower() not in (".txt", ".caption", ".json"):  # captions and notes are expected
                    left.append(f"{p.name!r} in {path.name!r} (not a photo)")
            if not found:
                raise InputError(f"The folder {path.name} has no photos in it (JPEG, PNG or WebP).")
            out.extend(found)
            if notes is not None:
                notes.extend(left)
        else:
            out.append(path)
    return out


def _add(ctx, ref, files: list[str], *, check: bool, quiet: bool) -> dict:
    notes: list[str] = []
    paths = expand_photo_args(files, notes)
    files = [str(p) for p in paths]
    result = ctx.characters.add_photos(ref, [(p, p.name) for p in paths])
    if not quiet:
        info(result.summary())
        for name, reason in result.rejected:
            info(f"  rejected {name}: {reason}")
        for note in notes:
            info(f"  not taken: {note}")
        for name in result.duplicates:
            info(f"  skipped {name}: already added")
    out = result.to_dict() | {"not_taken": notes}
    if check and result.added:
        out["checks"] = _run_job(ctx, ctx.characters.submit_checks(ref), quiet)
    if files and not result.added and result.rejected and not result.duplicates:
        out["error"] = f"None of the {len(files)} file(s) could be added; the reason for each is listed."
        out["exit_code"] = InputError.exit_code
        sys.stderr.write(f"error: {out['error']}\n")  # the sentence on stderr, with --json too
    return out


def _dispatch(ctx, args) -> int:
    svc = ctx.characters
    action = args.character_command
    if action == "list":
        characters = svc.list()
        if args.json:
            print_json(
                {"characters": [c.to_dict() | {"readiness": svc.report(c.id)[0].status} for c in characters]}
            )
        else:
            for c in characters:
                print(f"{c.id:<4} {c.name:<30} trigger {c.trigger_word:<12} {c.photo_count} photo(s)")
            if not characters:
                print(
                    "No characters yet. Create one with: python -m isengard character create NAME --photos …"
                )
        return 0
    if action == "create":
        character = svc.create(args.name, args.trigger, args.class_word)
        if not args.json:
            info(f"Created {character.name} (trigger word: {character.trigger_word})")
        out = {"character": character.to_dict()}
        if args.photos:
            out |= _add(ctx, character.id, args.photos, check=not args.no_check, quiet=args.json)
        out["character"] = svc.get(character.id).to_dict()
        if args.json:
            print_json(out | {"report": _report_dict(ctx, character.id)})
        elif args.photos:
            _print_report(ctx, character.id)
        return out.get("exit_code", 0)
    character = svc.get(args.name)
    if action == "show":
        if args.json:
            print_json({"character": character.to_dict(), **_report_dict(ctx, character.id)})
        else:
            print(f"{character.name} — trigger word '{character.trigger_word}', a {character.class_word}")
            _print_report(ctx, character.id)
        return 0
    if action == "add-photos":
        out = _add(ctx, character.id, args.photos, check=not args.no_check, quiet=args.json)
        if args.json:
            print_json(out | {"report": _report_dict(ctx, character.id)})
        else:
            _print_report(ctx, character.id)
        return out.get("exit_code", 0)
    if action == "caption":
        from isengard.characters.captions import default_captioner

        job_id = svc.submit_captions(
            character.id,
            captioner=args.captioner or default_captioner(ctx.registry),
            template=args.template,
            keep_edited=not args.all,
        )
        result = _run_job(ctx, job_id, args.json)
        if args.json:
            print_json(result | _report_dict(ctx, character.id))
        else:
            for photo in svc.photos(character.id):
                print(f"#{photo.id}: {photo.caption}")
        return 0
    if action == "set-caption":
        photo = svc.photo(args.photo_id)
        if photo.character_id != character.id:
            raise InputError(f"Photo #{args.photo_id} does not belong to {character.name}.")
        photo, note = svc.set_caption(photo.id, args.text)
        if note:
            info(note)
        print_json(photo.to_dict()) if args.json else print(photo.caption)
        return 0
    if action in ("check", "crop"):
        job_id = svc.submit_checks(character.id) if action == "check" else svc.submit_autocrop(character.id)
        result = _run_job(ctx, job_id, args.json)
        if args.json:
            print_json(result | _report_dict(ctx, character.id))
        else:
            _print_report(ctx, character.id)
        return 0
    if action == "rename":
        renamed = svc.rename(character.id, args.new_name)
        print_json(renamed.to_dict()) if args.json else print(f"Renamed to {renamed.name}")
        return 0
    if action == "set-trigger":
        changed = svc.set_trigger(character.id, args.trigger)
        print_json(changed.to_dict()) if args.json else print(f"Trigger word is now {changed.trigger_word}")
        return 0
    if action == "delete":
        plan = svc.delete_plan(character.id)
        lora_text = (
            f"and {len(plan['loras'])} trained LoRA file(s)"
            if args.with_loras
            else f"(its {len(plan['loras'])} trained LoRA file(s) are kept)"
        )
        message = f"This deletes {character.name} and {plan['photos']} photo(s) {lora_text}."
        if not args.yes:
            if not sys.stdin.isatty():
                raise InputError(message, hint="Add --yes to confirm.")
            answer = input(f"{message}\nType the character's name to confirm: ")
            if answer.strip() != character.name:
                info("Not deleted.")
                return 1
        result = svc.delete(character.id, with_loras=args.with_loras)
        print_json(result) if args.json else print(f"Deleted {character.name}.")
        return 0
    raise InputError(f"unknown action {action}")
