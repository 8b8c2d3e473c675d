"""``python -m core``: the studio's command line (see :mod:`core.cli.main`)."""

import sys

from core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
