"""``python -m bench.sendpath``: our send loop against the floor's, in one process, same sockets.

Starts our server (core 0) and N picows clients (core 1), then alternates, broadcast by
broadcast, our real broadcast (``BCAST``: the service decides a change, the hub fans it out)
and the floor's ``socket.send`` loop run inside our server over the very same sockets
(``FLOOR``), waiting after each until every client has it. The ratio of the two send loops,
taken round by round, cancels the machine (CPU, kernel, other load) as far as anything can:
it is the figure to watch while changing the send path. The CPU line (the server thread's CPU
time during each loop) leaves out the time the loop was preempted, so on a busy machine it is
the steadier of the two.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.proc import CLIENT_CORE, SERVER_CORE, Proc
from bench.stats import percentile

PAUSE_SECONDS = 0.005


def _send(server: Proc, loadgen: Proc, command: str, clients: int) -> tuple[int, int]:
    _, seq, _t0, _call, fanout, cpu, *_ = server.ask(command)
    loadgen.ask(f"WAIT ours {seq} {clients} 10", timeout=40)
    time.sleep(PAUSE_SECONDS)
    return int(fanout), int(cpu)


def _line(what: str, n: int, ours: list[int], floor: list[int]) -> str:
    ratios = [o / f for o, f in zip(ours, floor, strict=True)]
    ours_us, floor_us = statistics.median(ours) / 1000 / n, statistics.median(floor) / 1000 / n
    return (
        f"  {what}: ours {ours_us:.2f} µs/client, floor {floor_us:.2f} µs/client, "
        f"ratio of medians {ours_us / floor_us:.3f}; ours/floor round by round "
        f"p25 {percentile(ratios, 25):.3f} p50 {percentile(ratios, 50):.3f} "
        f"p75 {percentile(ratios, 75):.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Connect, alternate the two loops, print µs per client and the ratio."""
    p = argparse.ArgumentParser(prog="python -m bench.sendpath", description=__doc__)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=60)
    args = p.parse_args(argv)
    python, n = sys.executable, args.clients
    took: dict[str, list[tuple[int, int]]] = {"BCAST": [], "FLOOR": []}
    with (
        tempfile.TemporaryDirectory(prefix="calc-sendpath-") as logs,
        Proc("ours", SERVER_CORE, [python, "-m", "bench.servers.ours"], Path(logs)) as srv,
        Proc("loadgen", CLIENT_CORE, [python, "-m", "bench.loadgen"], Path(logs)) as gen,
    ):
        port = int(srv.read_line(30).split()[1])
        gen.read_line(30)
        gen.ask(f"CONNECT ours ws://127.0.0.1:{port}/ws {n} 100 ws", timeout=300)
        time.sleep(1)
        for i in range(args.rounds):
            for command in ("BCAST", "FLOOR") if i % 2 else ("FLOOR", "BCAST"):
                took[command].append(_send(srv, gen, command, n))
        gen.ask("CLOSE", timeout=120)
    ours, floor = took["BCAST"], took["FLOOR"]
    print(f"N={n:,}, {args.rounds} rounds")
    print(_line("wall", n, [w for w, _ in ours], [w for w, _ in floor]))
    print(_line("CPU ", n, [c for _, c in ours], [c for _, c in floor]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
