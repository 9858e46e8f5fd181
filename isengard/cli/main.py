"""Argument parsing and error handling for `python -m isengard`.

Every command runs under one correlation id (new, or `--correlation-id`); errors print one sentence on
stderr and exit with the error's code (see isengard.errors). `--json` prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from isengard import __version__
from isengard.cli import (
    character_cmd,
    doctor_cmd,
    evaluate_cmd,
    generate_cmd,
    hub_cmd,
    jobs_cmd,
    models_cmd,
    recover_cmd,
    serve_cmd,
    train_cmd,
    worker_cmd,
)
from isengard.cli.common import print_json
from isengard.errors import IsengardError
from isengard.obs import event, use_correlation

COMMANDS = (
    serve_cmd,
    doctor_cmd,
    character_cmd,
    train_cmd,
    generate_cmd,
    evaluate_cmd,
    hub_cmd,
    models_cmd,
    jobs_cmd,
    recover_cmd,
    worker_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m isengard",
        description="Isengard: personalised AI images — characters, identity LoRAs, generation.",
    )
    parser.add_argument("--version", action="version", version=f"isengard {__version__}")
    parser.add_argument(
        "--correlation-id", default=os.environ.get("ISENGARD_CORRELATION_ID"), help=argparse.SUPPRESS
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with use_correlation(args.correlation_id, service="api") as cid:
        try:
            code = int(args.func(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
            return code
        except BrokenPipeError:  # `… | head`: the reader has what it wanted; no traceback, no error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except IsengardError as exc:
            _log_failure(args.command, exc, cid)
            if getattr(args, "json", False):  # scripts read stdout: the same failure, as the JSON object
                print_json({"error": str(exc), "exit_code": exc.exit_code, "command": args.command})
            sys.stderr.write(f"error: {exc}\n")
            return exc.exit_code
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            return 130


def _log_failure(command: str, exc: IsengardError, cid: str) -> None:
    # logging may not be set up yet (a settings error); the message still reaches stderr
    with contextlib.suppress(Exception):
        event(
            "cli.failed",
            f"{command} failed: {exc}",
            level="WARNING",
            command=command,
            exit_code=exc.exit_code,
        )
