"""Check every line of every log file under LOG_DIR (default: the configured log folder).

JSON logs must carry timestamp, level, service, correlation_id, message, event and context, and no
unredacted secret; captured subprocess output is checked for secrets only.
Exit status: 0 all good, 1 a bad line, 2 no such folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    from isengard.obs.validate import validate_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log_dir", nargs="?", help="log folder (default: LOG_DIR or ./logs)")
    args = parser.parse_args(argv)
    if args.log_dir:
        log_dir = Path(args.log_dir)
    else:
        from isengard.settings import Settings

        log_dir = Settings.from_env(cuda_available=lambda: False).log_dir
    if not log_dir.is_dir():
        print(f"error: {log_dir} is not a folder", file=sys.stderr)
        return 2
    report = validate_dir(log_dir)
    for problem in report.problems:
        print(problem)
    verdict = "OK" if report.ok else f"{len(report.problems)} problem(s)"
    print(f"{report.files} file(s), {report.lines} line(s) checked in {log_dir}: {verdict}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
