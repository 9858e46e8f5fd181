"""`python -m isengard …` — the command line, on the same services as the studio."""

import sys

from isengard.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
