"""Counters the server keeps about itself, served as Prometheus text on ``GET /metrics``.

One ``Metrics`` per app (``keys.METRICS``), handed to each part that counts: the service counts
the states it publishes, the hub the peers it skips or cuts off, the connection handler the
connections, refused handshakes and bad frames. Gauges are read when rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(slots=True)
class Metrics:
    """Monotonic counters, each changed only by the part where its event happens."""

    state_changes: int = 0
    """States published to the peers (each encoded exactly once)."""
    peers_skipped: int = 0
    """Times a broadcast or a reply skipped a peer that was behind."""
    peers_cut_off: int = 0
    """Peers aborted because they did not drain in time."""
    connections: int = 0
    """WebSocket connections accepted."""
    handshakes_refused: int = 0
    """Handshakes answered with 401, 403 or 503."""
    bad_messages: int = 0
    """Frames answered with ``bad_message``."""
    output_batches: int = 0
    """``output`` batches of a job's lines broadcast (each encoded once)."""
    output_skipped: int = 0
    """Times an output batch skipped a peer with bytes still unsent, or behind (it sees a gap)."""

    @property
    def encodes(self) -> int:
        """States encoded for broadcast: the same event as ``state_changes``, counted once."""
        return self.state_changes


_COUNTERS = (
    ("calc_state_changes_total", "state_changes"),
    # a published name, kept: every state change is encoded exactly once, so it is one count
    ("calc_encodes_total", "state_changes"),
    ("calc_peers_skipped_total", "peers_skipped"),
    ("calc_peers_cut_off_total", "peers_cut_off"),
    ("calc_connections_total", "connections"),
    ("calc_handshakes_refused_total", "handshakes_refused"),
    ("calc_bad_messages_total", "bad_messages"),
    ("calc_output_batches_total", "output_batches"),
    ("calc_output_skipped_total", "output_skipped"),
)


def render(
    metrics: Metrics, *, clients: int, behind: int, seq: int, runs: Mapping[str, int] | None = None
) -> str:
    """Prometheus text exposition of the counters and the current gauges.

    ``runs``: runs ended by outcome, from the run history (which keeps them across restarts).
    """
    lines: list[str] = []
    for name, counter in _COUNTERS:
        lines += [f"# TYPE {name} counter", f"{name} {getattr(metrics, counter)}"]
    if runs is not None:
        lines.append("# TYPE calc_runs_total counter")
        lines += [f'calc_runs_total{{outcome="{o}"}} {n}' for o, n in sorted(runs.items())]
    for name, value in (
        ("calc_clients", clients),
        ("calc_peers_behind", behind),
        ("calc_seq", seq),
    ):
        lines += [f"# TYPE {name} gauge", f"{name} {value}"]
    return "\n".join(lines) + "\n"
