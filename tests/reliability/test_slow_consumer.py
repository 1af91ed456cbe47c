"""Case 4: a client that never reads is skipped while fifty others get every change; then cut off.

One server with fifty reading clients and one peer that never reads, pushed past its send limit
(its server-side kernel send buffer shrunk, as on a slow link). While it is stuck, changes keep
coming: the fifty get every one, in order, and nothing more is queued for the stuck peer. Once
the behind-timeout has passed it is cut off, never sooner, and the others are told. What the
stuck peer costs the others in latency is a figure of the machine: ``make bench`` measures it
(bench/slow_consumer.py).
"""

from __future__ import annotations

import asyncio

from calc_server.hub import Peer
from calc_server.keys import HUB, SERVICE
from calc_server.runner import RunningServer
from tests.conftest import LONG_STAGE, ServerFactory, both_presence_delays
from tests.looplag import LoopLag
from tests.rawsocket import SilentPeer
from tests.reliability.swarm import Watcher, close_all, contiguous, new_session, open_many
from tests.stuck import hub_peer, push_behind

NORMAL = 50
CHANGES = 40
"""Changes made while the peer is stuck (start and cancel alternately)."""
LIMIT = 16 * 1024
"""The server's send-buffer limit for this test."""
BEHIND_TIMEOUT = 1.0
CUT_OFF_WORK = 0.5
"""Seconds the cut-off may take beyond the timeout on a quiet machine: the next sweep of the
peers that are behind (every 0.1 s) and the presence delay."""


async def stuck_peer(server: RunningServer, watchers: list[Watcher]) -> tuple[SilentPeer, Peer]:
    """A never-reading peer, once every watcher is told it joined, pushed past the limit."""
    silent = await SilentPeer.open(server.host, server.port)
    await asyncio.gather(*(w.until(lambda w: w.presence == NORMAL + 1) for w in watchers))
    peer = hub_peer(server, silent)
    await push_behind(server, peer)
    return silent, peer


@both_presence_delays
async def test_never_reading_client_is_skipped_while_fifty_others_get_every_change_then_cut_off(
    server_factory: ServerFactory, presence_delay: float
) -> None:
    server = await server_factory(
        send_buffer_limit=LIMIT, behind_timeout=BEHIND_TIMEOUT, heartbeat=LONG_STAGE
    )
    hub, service = server.app[HUB], server.app[SERVICE]
    loop = asyncio.get_running_loop()
    async with LoopLag() as lag, new_session() as session:
        watchers = await open_many(session, server.url, NORMAL)
        try:
            silent, peer = await stuck_peer(server, watchers)
            behind_since = peer.behind_since
            assert behind_since is not None
            stuck_at = peer.transport.get_write_buffer_size()
            assert stuck_at > LIMIT

            # changes while it is stuck, with no await in between (it cannot be cut off
            # meanwhile): not one byte more is queued for it
            first = service.calculation.seq + 1
            for i in range(CHANGES // 2):
                service.start(f"change{i}")
                service.cancel(f"change{i}", None)
            last = service.calculation.seq
            assert peer in hub.peers
            assert peer.behind_since == behind_since, "still behind"
            assert peer.transport.get_write_buffer_size() == stuck_at
            assert hub.metrics.peers_skipped >= CHANGES

            # the others got every one of them, in order
            await asyncio.gather(*(w.until_seq(last) for w in watchers))
            for watcher in watchers:
                pairs = [p for p in watcher.pairs() if p[0] >= first]
                assert [seq for seq, _ in pairs] == list(range(first, last + 1))
                assert contiguous(watcher.pairs())

            # then it is cut off, never before its time, and the others are told
            await asyncio.gather(*(w.until(lambda w: w.presence == NORMAL) for w in watchers))
            cut_after = loop.time() - behind_since
            assert peer not in hub.peers
            assert len(hub) == NORMAL
            assert hub.metrics.peers_cut_off == 1
            silent.close()
        finally:
            await close_all(watchers)
    assert all(not w.others and not w.undecodable for w in watchers)
    assert cut_after >= BEHIND_TIMEOUT
    latest = BEHIND_TIMEOUT + CUT_OFF_WORK + presence_delay + lag.allowance(stalls=3)
    assert cut_after <= latest, (cut_after, lag.worst)
    print(
        f"\nFIGURES slow consumer: normal clients={NORMAL}, changes while stuck={CHANGES}, "
        f"stuck peer buffer={stuck_at}B (limit {LIMIT}B, unchanged), "
        f"cut off after {cut_after:.2f}s (timeout {BEHIND_TIMEOUT}s), lost=0"
    )
