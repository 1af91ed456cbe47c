"""``python -m bench.history_store [--runs N]``: the SQLite history store at N stored runs.

Not part of ``make bench`` yet: prints the time of a ``page`` (newest page, and a page deep in
the history), of a ``get``, of opening the file (integrity check included), and of one
``record_*`` call (what the event loop pays per state change).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from calc_server.history import OutputLine, RunOutcome, SqliteHistory


def p99(samples: list[float]) -> float:
    """The 99th percentile, in milliseconds."""
    return statistics.quantiles(samples, n=100)[98] * 1000


async def measure(runs: int, queries: int, tail_lines: int) -> None:
    """Fill a fresh file with ``runs`` runs, then time the operations."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history-bench.sqlite3"
        store = await SqliteHistory.open(path, keep=runs)
        tail = [OutputLine("out", f"line {i} of the job's output") for i in range(tail_lines)]
        calls: list[float] = []
        for i in range(runs):
            cid = f"{i:012x}"
            t0 = time.perf_counter()
            store.record_start(cid, "bench", at=i * 10.0, command="make all")
            store.record_stage(cid, 1, at=i * 10.0 + 1)
            store.record_stage(cid, 2, at=i * 10.0 + 2)
            store.record_end(cid, RunOutcome.SUCCESS, None, at=i * 10.0 + 3, output_tail=tail)
            calls.append((time.perf_counter() - t0) / 4)
            if i % 1000 == 999:
                await store.get(cid)  # let the writer keep up, as a real server's pace would
        await store.get(f"{runs - 1:012x}")
        await store.close()

        t0 = time.perf_counter()
        store = await SqliteHistory.open(path, keep=runs)
        opened = time.perf_counter() - t0
        newest, deep, gets = [], [], []
        for q in range(queries):
            t0 = time.perf_counter()
            await store.page(20, tails=False)  # as a history request asks
            newest.append(time.perf_counter() - t0)
            before = f"{(q * 7919) % runs:012x}"
            t0 = time.perf_counter()
            await store.page(20, before=before, tails=False)
            deep.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await store.get(before)
            gets.append(time.perf_counter() - t0)
        await store.close()
        size = path.stat().st_size / 1e6

    print(f"runs stored: {runs:,} with {tail_lines} output lines each (file {size:.1f} MB)")
    for name, samples in [
        ("page(20) newest", newest),
        ("page(20, before=id)", deep),
        ("get(id)", gets),
        ("one record_* call", calls),
    ]:
        median = statistics.median(samples) * 1000
        print(f"{name:<22} p50 {median:.3f} ms  p99 {p99(samples):.3f} ms")
    print(f"{'open (quick_check)':<22} {opened * 1000:.0f} ms")


def main() -> None:
    """Parse the arguments and measure."""
    p = argparse.ArgumentParser(prog="python -m bench.history_store", description=__doc__)
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=2_000)
    p.add_argument("--tail-lines", type=int, default=50, help="output lines kept per run")
    args = p.parse_args()
    asyncio.run(measure(args.runs, args.queries, args.tail_lines))


if __name__ == "__main__":
    main()
