"""`jobs list|show|follow|cancel|resume`: follow and control any job, also one the studio is running."""

from __future__ import annotations

import time

from isengard.cli.common import follow_job, print_json, progress_line
from isengard.context import bootstrap
from isengard.errors import InputError
from isengard.obs import event

EXIT_BY_STATUS = {"succeeded": 0, "failed": 6, "cancelled": 8, "interrupted": 9}  # see EXIT_CODES


def add_parser(sub) -> None:
    p = sub.add_parser("jobs", help="list, follow, cancel or resume jobs")
    jsub = p.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    for name, helptext in (
        ("list", "recent jobs"),
        ("show", "one job with its recent events"),
        ("follow", "print progress until the job ends"),
        ("cancel", "ask a running job to stop (it keeps its last checkpoint)"),
        ("resume", "continue an interrupted or cancelled job from its last checkpoint"),
    ):
        q = jsub.add_parser(name, help=helptext)
        if name != "list":
            q.add_argument("job_id")
        else:
            q.add_argument("--limit", type=int, default=20)
        q.add_argument("--json", action="store_true", help="print one JSON object")
        q.set_defaults(func=run)


def run(args) -> int:
    action = args.jobs_command
    ctx = bootstrap(console_level="ERROR", start_runner=action == "resume")
    try:
        return _dispatch(ctx, action, args)
    finally:
        ctx.close()


def _dispatch(ctx, action: str, args) -> int:
    runner = ctx.runner
    event("cli.jobs", f"jobs {action}", action=action, job_id=getattr(args, "job_id", None))
    if action == "list":
        jobs = runner.list(limit=args.limit)
        if args.json:
            print_json({"jobs": [j.to_dict() for j in jobs]})
        else:
            for job in jobs:
                created = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created_at))
                print(f"{job.id:<40} {job.status:<12} {created}  {job.title}")
            if not jobs:
                print("No jobs yet.")
        return 0
    job = runner.get(args.job_id)
    if job is None:
        raise InputError(f"There is no job {args.job_id}.", hint="See `python -m isengard jobs list`.")
    if action == "show":
        events = runner.events(job.id)[-50:]
        if args.json:
            print_json({"job": job.to_dict(), "events": [e.to_dict() for e in events]})
        else:
            print(progress_line(job))
            for ev in events:
                print(f"  #{ev.seq} {time.strftime('%H:%M:%S', time.localtime(ev.ts))} {ev.type} {ev.data}")
        return 0
    if action == "cancel":
        changed = runner.cancel(job.id)
        if args.json:
            print_json({"job_id": job.id, "cancel_requested": changed, "status": job.status})
        else:
            print("Cancel requested." if changed else f"The job already ended ({job.status}).")
        return 0
    if action == "resume":
        runner.resume(job.id)
    final = follow_job(runner, job.id, quiet=args.json)
    if args.json:
        print_json({"job": final.to_dict()})
    return EXIT_BY_STATUS.get(final.status, 1)
