"""Start the Isengard studio: `python app.py` is the same as `python -m isengard serve`."""

import sys

from isengard.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
