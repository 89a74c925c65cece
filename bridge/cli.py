"""``drift-bridge`` command line."""

import argparse
import sys
from collections.abc import Sequence

from bridge import __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``drift-bridge``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="drift-bridge")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.parse_args(argv)
    print(f"drift-bridge {__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
