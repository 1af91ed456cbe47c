"""Counters the server keeps about itself, served as Prometheus text on ``GET /metrics``."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class Metrics:
    """Monotonic counters; gauges are read from the hub when rendering."""

    state_changes: int = 0
    """State changes broadcast (each encoded exactly once)."""
    encodes: int = 0
    """State messages encoded for broadcast."""
    peers_skipped: int = 0
    """Times a broadcast skipped a peer that was behind."""
    peers_cut_off: int = 0
    """Peers aborted because they did not drain in time."""
    connections: int = 0
    """WebSocket connections accepted."""
    handshakes_refused: int = 0
    """Handshakes answered with 401, 403 or 503."""
    bad_messages: int = 0
    """Frames answered with ``bad_message``."""


_HELP = {f.name: f"calc_{f.name}_total" for f in fields(Metrics)}


def render(metrics: Metrics, *, clients: int, behind: int, seq: int) -> str:
    """Prometheus text exposition of the counters and the current gauges."""
    lines: list[str] = []
    for f in fields(Metrics):
        name = _HELP[f.name]
        lines += [f"# TYPE {name} counter", f"{name} {getattr(metrics, f.name)}"]
    for name, value in (
        ("calc_clients", clients),
        ("calc_peers_behind", behind),
        ("calc_seq", seq),
    ):
        lines += [f"# TYPE {name} gauge", f"{name} {value}"]
    return "\n".join(lines) + "\n"
