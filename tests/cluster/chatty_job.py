"""A job for the cluster tests: prints its process group, a report, "ready", then a line every
20 ms until it is stopped (or, given a count, until it printed that many; given ``--until
PATH``, until that file exists: then it exits 0)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    """Print as the module docstring says."""
    args = sys.argv[1:]
    until = Path(args[1]) if args[:1] == ["--until"] else None
    count = int(args[0]) if args and until is None else None
    print(os.getpgrp(), flush=True)
    print(json.dumps({"calc": {"progress": 0.5, "message": "half way"}}), flush=True)
    print("ready", flush=True)
    n = 0
    while (count is None or n < count) and (until is None or not until.exists()):
        print(f"line {n}", flush=True)
        n += 1
        time.sleep(0.02)


if __name__ == "__main__":
    main()
