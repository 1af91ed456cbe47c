"""Fan-out: how long until the last of N clients has a broadcast, and its send cost per client.

Per broadcast, the server process takes ``t0 = time.monotonic_ns()`` just before it decides the
change and times its own send loop (``bench.looptimer``: wall, CPU, involuntary switches); the
load generator timestamps every client's receipt on the same clock. The latency of a broadcast
is the last receipt minus ``t0``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.proc import Proc
from bench.stats import percentile

WAIT_SECONDS = 10.0
"""How long one broadcast may take to reach every client before it counts as incomplete."""
PAUSE_SECONDS = 0.005
"""Quiet time between broadcasts, so each starts from drained sockets."""


@dataclass(slots=True)
class Fanout:
    """Every broadcast's last- and first-client latency (ms) and send loop time (ns)."""

    clients: int
    last_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    send_ns: list[int] = field(default_factory=list)
    send_cpu_ns: list[int] = field(default_factory=list)
    """The send loop's CPU time: its wall time minus the stretches it was preempted."""
    switches: list[int] = field(default_factory=list)
    """Involuntary context switches during the send loop (preemptions)."""
    before_ns: list[int] = field(default_factory=list)
    """From the decision until the send loop began."""
    incomplete: int = 0
    """Broadcasts that did not reach every client within ``WAIT_SECONDS``."""

    @property
    def broadcasts(self) -> int:
        """How many broadcasts were measured."""
        return len(self.last_ms)

    def last(self, q: float) -> float:
        """Percentile ``q`` of the last-client latency, ms."""
        return percentile(self.last_ms, q)

    def first(self, q: float) -> float:
        """Percentile ``q`` of the first-client latency, ms."""
        return percentile(self.first_ms, q)

    def send_us_per_client(self, q: float = 50) -> float:
        """Percentile ``q`` of the server's send loop time divided by N, microseconds."""
        return percentile([ns / 1000 / self.clients for ns in self.send_ns], q)

    def slowest(self, share: float) -> list[int]:
        """Indexes of the broadcasts whose last client waited longest (``share`` of them)."""
        count = max(1, round(len(self.last_ms) * share))
        return sorted(range(len(self.last_ms)), key=self.last_ms.__getitem__)[-count:]


def broadcast_once(server: Proc, loadgen: Proc, result: Fanout) -> None:
    """Trigger one state change on ``server`` and time its delivery to every client."""
    clients = result.clients
    _, seq, t0, _call, send, cpu, switches, began = server.ask("BCAST")
    _, _, count, first, last = loadgen.ask(
        f"WAIT {server.name} {seq} {clients} {WAIT_SECONDS}", timeout=WAIT_SECONDS + 30
    )
    if int(count) < clients:
        result.incomplete += 1
    result.last_ms.append((int(last) - int(t0)) / 1e6)
    result.first_ms.append((int(first) - int(t0)) / 1e6)
    result.send_ns.append(int(send))
    result.send_cpu_ns.append(int(cpu))
    result.switches.append(int(switches))
    result.before_ns.append(int(began) - int(t0))
    time.sleep(PAUSE_SECONDS)


def measure_fanout(
    servers: list[Proc], loadgens: dict[str, Proc], clients: int, broadcasts: int
) -> dict[str, Fanout]:
    """``broadcasts`` rounds, each one broadcast per server in turn.

    Interleaving the servers spreads whatever else the machine does evenly over all of them,
    so their ratios stay fair on a machine that is not quiet.
    """
    results = {server.name: Fanout(clients=clients) for server in servers}
    for _ in range(broadcasts):
        for server in servers:
            broadcast_once(server, loadgens[server.name], results[server.name])
    return results
