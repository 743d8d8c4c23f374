"""`python -m numnet ...`: the same as the `numnet` command."""

import sys

from numnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
