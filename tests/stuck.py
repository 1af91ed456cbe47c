"""A peer pushed behind the server's send limit by real changes, as on a slow link."""

from __future__ import annotations

import asyncio
import socket

from calc_server.hub import Peer
from calc_server.keys import HUB, SERVICE
from calc_server.runner import RunningServer
from tests.rawsocket import SilentPeer

FILL_CHANGES = 2000
"""Bound on the start/cancel pairs: far more than the kernel buffers hold at 4 KiB."""


def hub_peer(server: RunningServer, silent: SilentPeer) -> Peer:
    """The hub's ``Peer`` for ``silent``, found by its address (once the hub has it)."""
    host, port = silent.writer.get_extra_info("sockname")[:2]
    [peer] = [p for p in server.app[HUB].peers if p.remote == f"{host}:{port}"]
    return peer


async def push_behind(server: RunningServer, peer: Peer) -> None:
    """Make changes on ``server`` until its hub marks ``peer`` (which never reads) behind.

    The server-side kernel send buffer of that one socket is shrunk first, so the bytes pile
    up in the transport after a few hundred messages instead of megabytes. Counts changes,
    not time: it ends as soon as the peer is behind, however fast the machine is.
    """
    peer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    service = server.app[SERVICE]
    for i in range(FILL_CHANGES):
        service.start(f"fill{i}")
        service.cancel(f"fill{i}", None)
        if peer.behind_since is not None:
            return
        await asyncio.sleep(0)  # let the kernel move bytes, as a real loop would
    raise AssertionError("the silent peer never fell behind")
