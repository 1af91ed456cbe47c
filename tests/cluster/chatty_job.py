"""A job for the cluster tests: prints its process group, a report, "ready", then a line every
20 ms until it is stopped (or, given a count, until it printed that many)."""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    """Print as the module docstring says."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else None
    print(os.getpgrp(), flush=True)
    print(json.dumps({"calc": {"progress": 0.5, "message": "half way"}}), flush=True)
    print("ready", flush=True)
    n = 0
    while count is None or n < count:
        print(f"line {n}", flush=True)
        n += 1
        time.sleep(0.02)


if __name__ == "__main__":
    main()
