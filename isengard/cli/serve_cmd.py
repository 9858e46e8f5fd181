"""`serve`: start the studio (same as `python app.py`)."""

from __future__ import annotations

import os
import signal

from isengard.context import bootstrap, start_own_workers
from isengard.obs import event
from isengard.server import check_port_free
from isengard.settings import Settings


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="start the studio in your browser (same as python app.py)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 needs a login)")
    p.add_argument("--port", type=int, help="port (default 7860, or PORT / API_PORT)")
    p.add_argument("--share", action="store_true", help="create a public Gradio share link (needs a login)")
    p.set_defaults(func=run)


def run(args) -> int:
    env = dict(os.environ)
    if args.host:
        env["HOST"] = args.host
    if args.port:
        env["PORT"] = str(args.port)
    if args.share:
        env["ISENGARD_SHARE"] = "true"
    settings = Settings.from_env(env)
    check_port_free(settings.host, settings.port)
    ctx = bootstrap(settings, rotate_logs=True, backups=True)
    start_own_workers(ctx)
    from isengard.server import launch

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # `docker stop` / RunPod stop: shut down like Ctrl+C
    try:
        launch(ctx, block=True)
    except KeyboardInterrupt:
        pass
    finally:
        event("server.stopping", "shutting down: running jobs are marked interrupted and can be resumed")
        ctx.close()
    return 0
