"""Connection setup: handshakes per second with a fixed number in flight, server CPU per one."""

from __future__ import annotations

from dataclasses import dataclass

from bench.proc import Proc, cpu_seconds

IN_FLIGHT = 100
"""Handshakes the load generator keeps open at once."""


@dataclass(frozen=True, slots=True)
class Handshakes:
    """How fast N clients got connected, end to end, and what it cost the server."""

    opened: int
    failed: int
    per_second: float
    server_cpu_us: float
    """Server CPU (user + system) per opened connection, in microseconds (10 ms ticks)."""
    client_cpu_us: float
    """The load generator's CPU per opened connection: near the elapsed time per handshake,
    the load generator rather than the server sets the rate."""


def connect_clients(server: Proc, loadgen: Proc, url: str, n: int, mode: str) -> Handshakes:
    """Open ``n`` clients of ``server`` through the load generator, ``IN_FLIGHT`` at a time."""
    cpu0, gen0 = cpu_seconds(server.pid), cpu_seconds(loadgen.pid)
    words = loadgen.ask(f"CONNECT {server.name} {url} {n} {IN_FLIGHT} {mode}", timeout=300)
    cpu1, gen1 = cpu_seconds(server.pid), cpu_seconds(loadgen.pid)
    opened, failed, elapsed_ns = int(words[1]), int(words[2]), int(words[3])
    return Handshakes(
        opened=opened,
        failed=failed,
        per_second=opened / (elapsed_ns / 1e9) if elapsed_ns else 0.0,
        server_cpu_us=(cpu1 - cpu0) * 1e6 / max(opened, 1),
        client_cpu_us=(gen1 - gen0) * 1e6 / max(opened, 1),
    )
