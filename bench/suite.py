"""One run of the server figures: every server at every N, each in fresh processes."""

from __future__ import annotations

import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.fanout import Fanout, measure_fanout
from bench.handshakes import Handshakes, connect_clients
from bench.machine import Load
from bench.memory import Memory
from bench.proc import CLIENT_CORE, SERVER_CORE, Proc, ProcError, rss_kib
from bench.stage_timing import StageTiming, measure_stages

SERVERS = {
    "ours": "bench.servers.ours",
    "floor": "bench.servers.floor",
    "websockets": "bench.servers.websockets_ref",
    "naive": "bench.servers.naive_aiohttp",
}
"""Short name -> module of each server compared, ours first."""

SETTLE_SECONDS = 1.0
"""Pause after connecting (presence broadcast, handshake garbage) before measuring memory."""


@dataclass(slots=True)
class Run:
    """Every figure of one server at one N (None where that figure does not apply)."""

    server: str
    clients: int
    handshakes: Handshakes
    memory: Memory
    fanout: Fanout
    stages: StageTiming | None = None
    encodes: int | None = None
    state_changes: int | None = None
    other_load: float = 0.0
    """Percent of the two cores used by processes outside the benchmark during this run."""


def broadcasts_for(server: str, clients: int) -> int:
    """How many broadcasts to time: 100 for ours (the memory figure needs them), fewer for
    the slow alternatives at large N so the suite fits in ten minutes."""
    if server == "ours" or clients <= 1000:
        return 100
    return 40 if clients <= 5000 else 30


def _metrics(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        name: int(value)
        for name, value in (line.split() for line in text.splitlines() if line[:1] != "#")
    }


def run_one(server: str, clients: int, log_dir: Path) -> Run:
    """Start the server and a load generator, connect, broadcast, measure, stop both."""
    python = sys.executable
    with (
        Proc(server, SERVER_CORE, [python, "-m", SERVERS[server]], log_dir) as srv,
        Proc(f"loadgen-{server}", CLIENT_CORE, [python, "-m", "bench.loadgen"], log_dir) as gen,
    ):
        port = int(srv.read_line(30).split()[1])
        gen.read_line(30)
        url = f"ws://127.0.0.1:{port}/ws"
        time.sleep(0.2)
        before = rss_kib(srv.pid)
        handshakes = connect_clients(srv, gen, url, clients, "tcp" if server == "floor" else "ws")
        if handshakes.failed:
            raise ProcError(f"{server}: {handshakes.failed} of {clients} clients failed to connect")
        time.sleep(SETTLE_SECONDS)
        connected = rss_kib(srv.pid)
        count = broadcasts_for(server, clients)
        fanout = measure_fanout(srv, gen, clients, count)
        time.sleep(0.2)
        memory = Memory(before, connected, rss_kib(srv.pid), clients, count)
        run = Run(server, clients, handshakes, memory, fanout)
        if server == "ours":
            run.stages = measure_stages(srv, gen, clients)
            metrics = _metrics(port)
            run.encodes = metrics["calc_encodes_total"]
            run.state_changes = metrics["calc_state_changes_total"]
        gen.ask("CLOSE", timeout=120)
        return run


def run_all(sizes: list[int], log_dir: Path) -> list[Run]:
    """Every server at every N, ours first at each N; prints progress to stderr."""
    runs: list[Run] = []
    for clients in sizes:
        for server in SERVERS:
            t = time.monotonic()
            load = Load.start()
            run = run_one(server, clients, log_dir)
            load.stop()
            run.other_load = 100 * load.foreign_seconds / (time.monotonic() - t) / 2
            print(
                f"bench: {server:<10} N={clients:>6,}  last p50 {run.fanout.last(50):7.2f} ms"
                f"  p99 {run.fanout.last(99):7.2f} ms  send {run.fanout.send_us_per_client():5.2f}"
                f" us/client  {run.handshakes.per_second:7.0f} hs/s"
                f"  ({time.monotonic() - t:.0f} s, other load {run.other_load:.0f}%)",
                file=sys.stderr,
            )
            runs.append(run)
    return runs
