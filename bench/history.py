"""``python -m bench.history``: what the run history costs the server, measured end to end.

1. State fan-out at N clients (default 1,000) with the history in a SQLite file vs in memory
   (``--history none``): two real server processes, each with its own load generator, one
   state change each in turn (start, then cancel: every change is a history record), so the
   machine's other work falls on both alike. The p99 ratio shows whether a change's fan-out
   waits for its history write (it must not: at most 1.05x). ``--rounds R`` repeats it on the
   same servers, the first of the two alternating, and judges the median of the rounds' ratios.
2. ``history`` requests to a real server whose file holds 100,000 runs (each with a 50-line
   output tail, as a real job leaves): the round trip from a client, newest page and pages
   deep in the history (``before``), and one run whole (``calculation_id``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.control import raise_nofile
from bench.fanout import measure_fanout
from bench.handshakes import connect_clients
from bench.proc import CLIENT_CORE, SERVER_CORE, Proc, ProcError
from bench.stats import percentile
from calc_server.history import OutputLine, RunOutcome, SqliteHistory
from protocol import Error, History, HistoryQuery, encode, server_decoder

FANOUT_TARGET = 1.05
"""p99 fan-out with the history file over p99 without: at most this."""
QUERY_TARGET_MS = 5.0
"""p99 of a ``history`` request with 100,000 runs stored: at most this."""
PER_CONNECTION = 15
"""Queries sent on one connection before the next takes over: under the rate limit's burst."""


def fanout(
    clients: int, broadcasts: int, log_dir: Path, path: Path, rounds: int = 1
) -> list[dict[str, float]]:
    """Per round, p50/p99 last-client latency (ms) with the history in ``path`` and in memory.

    The same servers and clients serve every round; the servers take turns within a round, the
    first of them alternating from round to round (a file server's writes after its change
    would otherwise always overlap the other server's next one).
    """
    python = sys.executable
    argv = {
        "sqlite": [python, "-m", "bench.servers.ours", "--history", str(path)],
        "memory": [python, "-m", "bench.servers.ours"],
    }
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(Proc(name, SERVER_CORE, args, log_dir))
            for name, args in argv.items()
        ]
        gens = {
            srv.name: stack.enter_context(
                Proc(f"loadgen-{srv.name}", CLIENT_CORE, [python, "-m", "bench.loadgen"], log_dir)
            )
            for srv in servers
        }
        ports = {srv.name: int(srv.read_line(30).split()[1]) for srv in servers}
        for gen in gens.values():
            gen.read_line(30)
        for srv in servers:
            url = f"ws://127.0.0.1:{ports[srv.name]}/ws"
            if connect_clients(srv, gens[srv.name], url, clients, "ws").failed:
                raise ProcError(f"{srv.name}: not every client connected")
        time.sleep(1.0)
        figures: list[dict[str, float]] = []
        for number in range(rounds):
            order = servers if number % 2 == 0 else servers[::-1]
            results = measure_fanout(order, gens, clients, broadcasts)
            this: dict[str, float] = {}
            for name, result in results.items():
                if result.incomplete:
                    raise ProcError(
                        f"{name}: {result.incomplete} broadcasts did not reach everyone"
                    )
                this[f"{name} p50"] = result.last(50)
                this[f"{name} p99"] = result.last(99)
                this[f"{name} send p50"] = percentile(result.send_ns, 50) / 1e6
            figures.append(this)
        for gen in gens.values():
            gen.ask("CLOSE", timeout=120)
    return figures


async def fill(path: Path, runs: int, tail_lines: int) -> None:
    """Write ``runs`` finished runs into a new history file, as a server's writer would."""
    store = await SqliteHistory.open(path, keep=runs)
    text = "line {} of the job's output, about as long as a log line is"
    tail = [OutputLine("out", text.format(i)) for i in range(tail_lines)]
    for i in range(runs):
        cid = f"{i:012x}"
        store.record_start(cid, "bench (c1)", at=i * 10.0, command="python train.py")
        store.record_stage(cid, 1, at=i * 10.0 + 2)
        store.record_stage(cid, 2, at=i * 10.0 + 4)
        end = i * 10.0 + 6
        store.record_end(cid, RunOutcome.SUCCESS, None, at=end, exit_code=0, output_tail=tail)
        if i % 1000 == 999:
            await store.get(cid)  # let the writer keep up
    await store.close()


async def query_times(url: str, runs: int, queries: int) -> dict[str, list[float]]:
    """Round trips (ms) of ``history`` requests of three kinds, ``queries`` of each."""
    kinds = {
        "page(20) newest": lambda q: HistoryQuery(request_id=f"n{q}"),
        "page(20, before)": lambda q: HistoryQuery(
            request_id=f"b{q}", before=f"{(q * 7919) % runs:012x}"
        ),
        "one run whole": lambda q: HistoryQuery(
            request_id=f"g{q}", calculation_id=f"{(q * 104729) % runs:012x}"
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in kinds}
    async with aiohttp.ClientSession() as session:
        sent = itertools.count()
        for name, make in kinds.items():
            q = 0
            while q < queries:
                async with session.ws_connect(url) as ws:
                    await ws.receive()  # welcome
                    await ws.receive()  # state
                    for _ in range(PER_CONNECTION):
                        frame = encode(make(next(sent)))
                        t0 = time.perf_counter()
                        await ws.send_str(frame.decode())
                        while True:
                            answer = server_decoder.decode((await ws.receive()).data)
                            if isinstance(answer, History | Error):
                                break
                        times[name].append((time.perf_counter() - t0) * 1000)
                        if isinstance(answer, Error):
                            raise RuntimeError(f"history request refused: {answer.message}")
                        q += 1
    return times


def queries(runs: int, count: int, log_dir: Path, path: Path) -> dict[str, list[float]]:
    """Fill a file with ``runs`` runs, serve it, and time ``count`` requests of each kind."""
    asyncio.run(fill(path, runs, tail_lines=50))
    with Proc(
        "history-server",
        SERVER_CORE,
        [sys.executable, "-m", "bench.servers.ours", "--history", str(path)],
        log_dir,
    ) as server:
        port = int(server.read_line(60).split()[1])
        return asyncio.run(query_times(f"ws://127.0.0.1:{port}/ws", runs, count))


def measure_history(
    log_dir: Path,
    clients: int = 1000,
    broadcasts: int = 200,
    runs: int = 100_000,
    rounds: int = 1,
    query_count: int = 1000,
) -> None:
    """Run both measurements and print their figures against the targets."""
    with tempfile.TemporaryDirectory(prefix="calc-bench-history-") as tmp:
        rounds_figures = fanout(clients, broadcasts, log_dir, Path(tmp) / "fanout.sqlite3", rounds)
        times = queries(runs, query_count, log_dir, Path(tmp) / "runs.sqlite3")
    ratios = [f["sqlite p99"] / f["memory p99"] for f in rounds_figures]
    ratio = statistics.median(ratios)
    verdict = "ok" if ratio <= FANOUT_TARGET else "OVER TARGET"
    print(
        f"\nrun history: state fan-out at {clients:,} clients, {broadcasts} changes each,"
        f" {rounds} round(s)"
    )
    for number, figures in enumerate(rounds_figures, 1):
        for kind in ("sqlite", "memory"):
            label = "history file" if kind == "sqlite" else "--history none"
            p50, p99 = figures[f"{kind} p50"], figures[f"{kind} p99"]
            send = figures[f"{kind} send p50"]
            print(
                f"  #{number} {label:<16} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
                f"   send loop p50 {send:6.2f} ms"
            )
    each = ", ".join(f"{r:.3f}" for r in ratios)
    print(
        f"  p99 ratio file/memory {ratio:.3f}x, median of rounds ({each})"
        f" (target <= {FANOUT_TARGET}x): {verdict}"
    )
    print(f"run history: history requests, {runs:,} runs stored (50 output lines each)")
    for name, samples in times.items():
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        mark = "ok" if p99 <= QUERY_TARGET_MS else "OVER TARGET"
        print(f"  {name:<18} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms ({len(samples)}): {mark}")


def main() -> None:
    """Parse the arguments and measure."""
    p = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--broadcasts", type=int, default=200)
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--queries", type=int, default=1000, help="history requests of each kind")
    args = p.parse_args()
    raise_nofile()
    os.sched_setaffinity(0, {CLIENT_CORE})  # as python -m bench does: the server has its own
    with tempfile.TemporaryDirectory(prefix="calc-bench-logs-") as logs:
        measure_history(
            Path(logs), args.clients, args.broadcasts, args.runs, args.rounds, args.queries
        )


if __name__ == "__main__":
    main()
