"""``python -m bench [--quick]``: run every benchmark, print the table, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from bench.cluster import report as cluster_report
from bench.codec import measure_codec
from bench.control import raise_nofile
from bench.history import measure_history
from bench.job_flood import measure_job_flood
from bench.machine import Load
from bench.proc import CLIENT_CORE
from bench.report import Results, console, markdown
from bench.slow_consumer import measure_slow_consumer
from bench.suite import run_all
from bench.tui import measure_tui

FULL_SIZES = [100, 1000, 5000, 10000]
QUICK_SIZES = [100, 1000]
ROOT = Path(__file__).resolve().parent.parent
NOTES = Path(__file__).with_name("notes.md")


def main(argv: list[str] | None = None) -> int:
    """Run the suite; exit 1 if a benchmark process failed."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="N = 100 and 1,000 only")
    p.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], help="comma-separated N values"
    )
    p.add_argument("--no-tui", action="store_true", help="skip the terminal client figures")
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="markdown report to write (default %(default)s); '-' to write none",
    )
    args = p.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    raise_nofile()
    os.sched_setaffinity(0, {CLIENT_CORE})
    command = shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
    started = time.monotonic()
    load = Load.start()
    with tempfile.TemporaryDirectory(prefix="calc-bench-") as logs:
        log_dir = Path(logs)
        try:
            codec = measure_codec()
            slow_consumer = measure_slow_consumer()
            tui = None if args.no_tui else measure_tui(log_dir)
            runs = run_all(sizes, log_dir)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                measure_history(log_dir)  # prints its own figures (bench/history.py)
            history = printed.getvalue().strip("\n")
            print(history, file=sys.stderr)
            job_flood = measure_job_flood(log_dir, clients=1000)
            print(job_flood, file=sys.stderr)
        except Exception:
            for log in sorted(log_dir.glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name} (last lines)\n" + "\n".join(tail), file=sys.stderr)
            raise
    load.stop()
    results = Results(
        command=command,
        when=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        runs=runs,
        codec=codec,
        slow_consumer=slow_consumer,
        tui=tui,
        load=load,
        seconds=time.monotonic() - started,
    )
    print(console(results))
    cluster = cluster_report()
    print("\ncluster mode (python -m bench.cluster):\n" + cluster)
    if str(args.out) != "-":
        notes = NOTES.read_text() if NOTES.exists() else ""
        more = "\n".join(
            [
                "",
                "## Jobs, run history and cluster mode",
                "",
                "As `python -m bench.job_flood`, `python -m bench.history` and"
                " `python -m bench.cluster` print them, in the same run.",
                "",
                "```",
                job_flood.strip("\n"),
                "",
                history,
                "",
                "cluster mode:",
                cluster.strip("\n"),
                "```",
                "",
            ]
        )
        args.out.write_text(markdown(results, notes).rstrip("\n") + "\n" + more)
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
