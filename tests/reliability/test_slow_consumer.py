"""Case 4: one client that never reads costs the fifty others nothing, and is cut off.

Two identical servers with fifty clients each run in the same test; one of them also has a
never-reading peer stuck behind its send limit. Changes are made on the two in turn, so any
noise on a busy two-core machine hits both alike, and the delivery latency (from the moment the
server publishes a change to the moment each client's reader has decoded it) is compared as
the median over many changes.
"""

from __future__ import annotations

import asyncio
import socket
import statistics

from calc_server.hub import Peer
from calc_server.keys import HUB, SERVICE
from calc_server.runner import RunningServer
from tests.conftest import ServerFactory
from tests.rawsocket import SilentPeer
from tests.reliability.swarm import Watcher, close_all, new_session, open_many

NORMAL = 50
CHANGES = 40
"""Changes measured per run (start and cancel alternately)."""
LIMIT = 16 * 1024
"""The server's send-buffer limit for this test."""
BEHIND_TIMEOUT = 3.0


async def one_change(server: RunningServer, watchers: list[Watcher]) -> float:
    """Make one change; the median over ``watchers`` of its delivery latency."""
    service = server.app[SERVICE]
    published = asyncio.get_running_loop().time()
    if service.calculation.phase.running:
        service.cancel("latency", None)
    else:
        service.start("latency")
    seq = service.calculation.seq
    await asyncio.gather(*(w.until_seq(seq, timeout=5) for w in watchers))
    return statistics.median(
        w.received_at[next(j for j, s in enumerate(w.states) if s.seq == seq)] - published
        for w in watchers
    )


async def interleaved(
    control: tuple[RunningServer, list[Watcher]], tested: tuple[RunningServer, list[Watcher]]
) -> tuple[list[float], list[float]]:
    """``CHANGES`` changes on each server, alternating, so both see the same machine noise."""
    alone: list[float] = []
    with_slow: list[float] = []
    for i in range(CHANGES):
        if i % 2:
            alone.append(await one_change(*control))
            with_slow.append(await one_change(*tested))
        else:
            with_slow.append(await one_change(*tested))
            alone.append(await one_change(*control))
    return alone, with_slow


async def stuck_peer(server: RunningServer) -> tuple[SilentPeer, Peer]:
    """A never-reading peer pushed past the send limit by real changes.

    Its server-side kernel send buffer is shrunk (a slow link), so the bytes pile up in the
    transport after a few hundred messages rather than megabytes.
    """
    hub, service = server.app[HUB], server.app[SERVICE]
    silent = await SilentPeer.open(server.host, server.port)
    host, port = silent.writer.get_extra_info("sockname")[:2]
    async with asyncio.timeout(2):
        # the handler registers the peer just after the 101 goes out; no event marks it
        while not (found := [p for p in hub.peers if p.remote == f"{host}:{port}"]):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    [peer] = found
    peer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    for i in range(2000):  # bounded: far more than the kernel buffers hold at 4 KiB
        service.start(f"fill{i}")
        service.cancel(f"fill{i}", None)
        if peer.behind_since is not None:
            return silent, peer
        await asyncio.sleep(0)  # let the kernel move bytes, as a real loop would
    raise AssertionError("the silent peer never fell behind")


async def test_never_reading_client_does_not_slow_fifty_others_and_is_cut_off(
    server_factory: ServerFactory,
) -> None:
    settings = {"send_buffer_limit": LIMIT, "behind_timeout": BEHIND_TIMEOUT}
    control = await server_factory(**settings)
    server = await server_factory(**settings)
    hub, service = server.app[HUB], server.app[SERVICE]
    async with new_session() as session:
        control_watchers = await open_many(session, control.url, NORMAL)
        watchers = await open_many(session, server.url, NORMAL)
        try:
            # warm up: the first rounds are slower
            await interleaved((control, control_watchers), (server, watchers))

            silent, peer = await stuck_peer(server)
            behind_since = peer.behind_since
            assert behind_since is not None
            stuck_at = peer.transport.get_write_buffer_size()
            assert stuck_at > LIMIT
            last = service.calculation.seq
            await asyncio.gather(*(w.until_seq(last) for w in watchers))

            alone, with_slow = await interleaved((control, control_watchers), (server, watchers))
            assert peer in hub.peers, "still connected while measured"
            # bounded memory: while it is behind, nothing more is queued for it (the kernel
            # may still take a few bytes off the buffer, so it can only shrink)
            assert peer.transport.get_write_buffer_size() <= stuck_at
            largest = max(p.transport.get_write_buffer_size() for p in hub.peers)

            # then it is cut off, and the others are told
            await asyncio.gather(
                *(
                    w.until(lambda w: w.presence == NORMAL, timeout=BEHIND_TIMEOUT + 2)
                    for w in watchers
                )
            )
            cut_after = asyncio.get_running_loop().time() - behind_since
            assert peer not in hub.peers
            assert len(hub) == NORMAL
            silent.close()
        finally:
            await close_all([*watchers, *control_watchers])

    base, slow = statistics.median(alone), statistics.median(with_slow)
    base90, slow90 = _p90(alone), _p90(with_slow)
    print(
        f"\nFIGURES slow consumer: normal clients={NORMAL} per server, changes={CHANGES} each, "
        f"median latency alone={base * 1e3:.2f}ms with slow={slow * 1e3:.2f}ms, "
        f"p90 alone={base90 * 1e3:.2f}ms with slow={slow90 * 1e3:.2f}ms, "
        f"slow peer buffer={stuck_at}B (limit {LIMIT}B, largest now {largest}B), "
        f"cut off after {cut_after:.2f}s, lost=0"
    )
    assert slow <= 2 * base, (alone, with_slow)
    assert all(not w.others for w in watchers)


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]
