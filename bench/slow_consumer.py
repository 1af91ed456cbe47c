"""A client that never reads: what it costs fifty readers in delivery latency.

Two identical servers with fifty clients each run in one process; one of them also has a peer
that never reads, stuck behind its send limit (its server-side kernel send buffer shrunk, as on
a slow link). Changes are made on the two in turn, so the machine's other load hits both alike,
and the delivery latency (from the moment the server publishes a change to the moment a
client's reader has decoded it) is compared as the median over many changes. That the stuck
peer is skipped, bounded and cut off is tested in tests/reliability/test_slow_consumer.py; this
is the figure, which depends on the machine.

``python -m bench.slow_consumer`` prints it alone.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field

from calc_server.config import Settings
from calc_server.hub import Peer
from calc_server.keys import HUB, SERVICE
from calc_server.runner import RunningServer, start_server
from tests.rawsocket import SilentPeer
from tests.reliability.swarm import Watcher, close_all, new_session, open_many
from tests.stuck import hub_peer, push_behind

NORMAL = 50
"""Reading clients per server."""
CHANGES = 40
"""Changes measured per server (start and cancel alternately)."""
WARM_UP = 10
"""Changes per server before measuring: the first rounds are slower."""
LIMIT = 16 * 1024
"""The servers' send-buffer limit."""
SETTINGS = Settings(
    port=0,
    no_auth=True,
    stage_seconds=3600.0,
    send_buffer_limit=LIMIT,
    behind_timeout=3600.0,  # stays stuck, and connected, for the whole measurement
)


@dataclass(slots=True)
class SlowConsumer:
    """Per-change median delivery latency (seconds) to ``NORMAL`` readers, on each server."""

    alone: list[float] = field(default_factory=list)
    with_slow: list[float] = field(default_factory=list)
    stuck_bytes: int = 0
    """What the stuck peer had queued when it was marked behind."""

    @property
    def ratio(self) -> float:
        """Median latency with the stuck peer over median latency without it."""
        return statistics.median(self.with_slow) / statistics.median(self.alone)

    def median_ms(self, values: list[float]) -> float:
        """The median of ``values``, in milliseconds."""
        return statistics.median(values) * 1e3


async def _one_change(server: RunningServer, watchers: list[Watcher]) -> float:
    """Make one change; the median over ``watchers`` of its delivery latency."""
    service = server.app[SERVICE]
    published = asyncio.get_running_loop().time()
    if service.calculation.phase.running:
        service.cancel("latency", None)
    else:
        service.start("latency")
    seq = service.calculation.seq
    await asyncio.gather(*(w.until_seq(seq, timeout=30) for w in watchers))
    return statistics.median(
        w.received_at[next(j for j, s in enumerate(w.states) if s.seq == seq)] - published
        for w in watchers
    )


async def _interleaved(
    control: tuple[RunningServer, list[Watcher]],
    tested: tuple[RunningServer, list[Watcher]],
    changes: int,
    result: SlowConsumer | None,
) -> None:
    """``changes`` changes on each server, alternating which goes first."""
    for i in range(changes):
        pair = (control, tested) if i % 2 else (tested, control)
        for server, watchers in pair:
            latency = await _one_change(server, watchers)
            if result is not None:
                (result.alone if server is control[0] else result.with_slow).append(latency)


async def _stuck_peer(server: RunningServer, watcher: Watcher) -> tuple[SilentPeer, Peer]:
    """A never-reading peer pushed past the send limit by real changes."""
    clients = len(server.app[HUB]) + 1
    silent = await SilentPeer.open(server.host, server.port)
    await watcher.until(lambda w: w.presence == clients, timeout=30)
    peer = hub_peer(server, silent)
    await push_behind(server, peer)
    return silent, peer


async def _measure() -> SlowConsumer:
    control = await start_server(SETTINGS)
    server = await start_server(SETTINGS)
    result = SlowConsumer()
    try:
        async with new_session() as session:
            control_watchers = await open_many(session, control.url, NORMAL)
            watchers = await open_many(session, server.url, NORMAL)
            try:
                pairs = ((control, control_watchers), (server, watchers))
                await _interleaved(*pairs, WARM_UP, None)
                silent, peer = await _stuck_peer(server, watchers[0])
                result.stuck_bytes = peer.transport.get_write_buffer_size()
                last = server.app[SERVICE].calculation.seq
                await asyncio.gather(*(w.until_seq(last, timeout=30) for w in watchers))
                await _interleaved(*pairs, CHANGES, result)
                if peer not in server.app[HUB].peers or peer.behind_since is None:
                    raise RuntimeError("the stuck peer left or caught up while measured")
                silent.close()
            finally:
                await close_all([*watchers, *control_watchers])
    finally:
        await control.stop()
        await server.stop()
    return result


def measure_slow_consumer() -> SlowConsumer:
    """Measure in a fresh event loop (the benchmark runner is synchronous)."""
    return asyncio.run(_measure())


if __name__ == "__main__":
    figures = measure_slow_consumer()
    print(
        f"slow consumer: {NORMAL} readers per server, {CHANGES} changes each: median latency "
        f"{figures.median_ms(figures.alone):.2f} ms alone, "
        f"{figures.median_ms(figures.with_slow):.2f} ms beside a stuck peer "
        f"({figures.stuck_bytes} B queued, limit {LIMIT} B): ratio {figures.ratio:.2f}"
    )
