"""One run of the server figures: all four servers side by side at each N.

For each N, the four servers and their load generators start fresh; each server in turn gets its
N clients (the handshake figures), then broadcasts go round-robin across the servers (the
fan-out figures), then ours alone runs the stage-timing calculations.
"""

from __future__ import annotations

import contextlib
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

BROADCASTS = 100
"""Broadcasts per server and N: p99 over 100, and the memory figure wants 100."""

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
    """Percent of the two cores used by processes outside the benchmark during this N."""
    gc_during_broadcasts: tuple[int, int, float] | None = None
    """Ours only: garbage collections during the broadcasts (all, gen 2, longest ms)."""


def _metrics(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        name: int(value)
        for name, value in (line.split() for line in text.splitlines() if line[:1] != "#")
    }


def run_size(clients: int, log_dir: Path) -> list[Run]:
    """Every server at ``clients``: connect, broadcast round-robin, measure, stop them all."""
    python = sys.executable
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(Proc(name, SERVER_CORE, [python, "-m", module], log_dir))
            for name, module in SERVERS.items()
        ]
        # one load generator per server (same code, same core): 4 x 10,000 sockets would not
        # fit under one process's limit on open files
        gens = {
            srv.name: stack.enter_context(
                Proc(f"loadgen-{srv.name}", CLIENT_CORE, [python, "-m", "bench.loadgen"], log_dir)
            )
            for srv in servers
        }
        ports = {srv.name: int(srv.read_line(30).split()[1]) for srv in servers}
        for gen in gens.values():
            gen.read_line(30)
        time.sleep(0.2)
        before = {srv.name: rss_kib(srv.pid) for srv in servers}
        handshakes = {}
        for srv in servers:
            url = f"ws://127.0.0.1:{ports[srv.name]}/ws"
            mode = "tcp" if srv.name == "floor" else "ws"
            handshakes[srv.name] = hs = connect_clients(srv, gens[srv.name], url, clients, mode)
            if hs.failed:
                raise ProcError(f"{srv.name}: {hs.failed} of {clients} clients failed to connect")
        time.sleep(SETTLE_SECONDS)
        connected = {srv.name: rss_kib(srv.pid) for srv in servers}
        servers[0].ask("GC")
        fanouts = measure_fanout(servers, gens, clients, BROADCASTS)
        _, count, gen2, longest = servers[0].ask("GC")
        time.sleep(0.2)
        runs = {
            srv.name: Run(
                srv.name,
                clients,
                handshakes[srv.name],
                Memory(
                    before[srv.name], connected[srv.name], rss_kib(srv.pid), clients, BROADCASTS
                ),
                fanouts[srv.name],
            )
            for srv in servers
        }
        ours = runs["ours"]
        ours.gc_during_broadcasts = (int(count), int(gen2), int(longest) / 1e6)
        ours.stages = measure_stages(servers[0], gens["ours"], clients)
        metrics = _metrics(ports["ours"])
        ours.encodes = metrics["calc_encodes_total"]
        ours.state_changes = metrics["calc_state_changes_total"]
        for gen in gens.values():
            gen.ask("CLOSE", timeout=120)
        return list(runs.values())


def run_all(sizes: list[int], log_dir: Path) -> list[Run]:
    """Every server at every N; prints progress to stderr."""
    runs: list[Run] = []
    for clients in sizes:
        t = time.monotonic()
        load = Load.start()
        batch = run_size(clients, log_dir)
        load.stop()
        other = 100 * load.foreign_seconds / (time.monotonic() - t) / 2
        for run in batch:
            run.other_load = other
            print(
                f"bench: {run.server:<10} N={clients:>6,}  last p50 {run.fanout.last(50):7.2f} ms"
                f"  p99 {run.fanout.last(99):7.2f} ms"
                f"  send {run.fanout.send_us_per_client():5.2f} us/client"
                f"  {run.handshakes.per_second:7.0f} hs/s",
                file=sys.stderr,
            )
        print(
            f"bench: N={clients:,} took {time.monotonic() - t:.0f} s, other load {other:.0f}%",
            file=sys.stderr,
        )
        runs += batch
    return runs
