"""The ``who`` request: which clients are connected, in the order they connected."""

from __future__ import annotations

import heapq

from calc_server.hub import Peer
from protocol import WHO_LIMIT, ConnectedClient, WhoAnswer


def who_answer(request_id: str, peers: frozenset[Peer]) -> WhoAnswer:
    """The answer to ``who``: at most ``WHO_LIMIT`` of ``peers``, oldest first, and the total."""
    # nsmallest, not sorted: at 10,000 peers only the first thousand need ordering
    first = heapq.nsmallest(WHO_LIMIT, peers, key=lambda peer: peer.connected_seq)
    return WhoAnswer(
        request_id=request_id,
        clients=[
            ConnectedClient(
                client_id=peer.client_id, name=peer.name, connected_at=peer.connected_at
            )
            for peer in first
        ],
        total=len(peers),
    )
