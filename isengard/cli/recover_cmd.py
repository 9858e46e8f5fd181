"""`recover`: rebuild the database from the data folder, or restore one of its backups."""

from __future__ import annotations

from isengard.cli.common import info, print_json
from isengard.context import bootstrap
from isengard.obs import event
from isengard.paths import Paths
from isengard.settings import Settings
from isengard.storage.backup import list_backups, restore_backup
from isengard.storage.recover import prepare_database, rebuild


def add_parser(sub) -> None:
    p = sub.add_parser(
        "recover",
        help="rebuild the database from your photos, LoRAs and pictures (or restore a backup)",
        description="Rebuild Isengard's database from the files in the data folder: characters and photos "
        "with their captions, LoRAs from their embedded metadata, pictures from their PNG settings. "
        "A damaged or empty database is moved aside, never deleted.",
    )
    p.add_argument("--backup", metavar="NAME", help="restore this backup instead ('latest', or a file name)")
    p.add_argument("--list-backups", action="store_true", help="list the database backups and exit")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    settings = Settings.from_env()
    paths = Paths(settings.data_dir, settings.log_dir, settings.tmp_dir)
    if args.list_backups:
        backups = [{"name": b.path.name, "created": b.label} for b in list_backups(paths.backups)]
        if args.json:
            print_json({"backups": backups})
        else:
            for b in backups or [{"name": "(none)", "created": ""}]:
                print(f"{b['name']}  {b['created']}")
        return 0
    if args.backup:
        chosen, aside = restore_backup(paths.db, args.backup)
        ctx = bootstrap(settings, console_level="ERROR", start_runner=False)
        ctx.close()
        result = {
            "restored": chosen.path.name,
            "created": chosen.label,
            "moved_aside": aside.name if aside else None,
        }
        event("cli.recover", f"restored the backup of {chosen.label}", **result)
        message = f"Restored the database backup from {chosen.label}."
        if aside:
            message += f" The database it replaced was kept as {aside.name}."
        return _done(args, result | {"summary": message}, message)
    moved = prepare_database(paths)
    ctx = bootstrap(settings, console_level="ERROR", start_runner=False, allow_empty_database=True)
    try:
        report = rebuild(ctx.db, ctx.paths)
        report.moved_aside = moved
    finally:
        ctx.close()
    message = report.summary()
    if moved:
        message += f" The old database was kept as {moved}."
    for name, why in report.skipped:
        info(f"  skipped {name}: {why}")
    return _done(args, report.to_dict(), message)


def _done(args, data: dict, message: str) -> int:
    if args.json:
        print_json(data)
    else:
        print(message)
    return 0
