"""The set of connected peers and the fan-out of pre-encoded frames to them.

Presence pacing lives in ``presence.py``, GC tuning in ``gctuning.py``, counters in
``metrics.py``; the hub only calls them.

A broadcast is one plain loop writing the same pre-built frame to every transport: no task or
queue per peer, no await. A peer whose unsent bytes exceed a limit is skipped and marked
behind; a single sweep timer hands it the latest snapshot once it has drained to a quarter of
the limit, or cuts it off if it does not drain in time. State messages are full snapshots,
so skipping some is safe.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from calc_server.frames import text_frame
from calc_server.gctuning import GcFreezer
from calc_server.metrics import Metrics
from calc_server.presence import PRESENCE_DELAY, PresencePacer
from protocol import Presence, encode

log = logging.getLogger("calc_server.hub")

SWEEP_INTERVAL = 0.1
"""Seconds between checks of peers that are behind."""


def _these_only(clients: int) -> int:
    """A single server's count: the peers of this hub."""
    return clients


@dataclass(eq=False, slots=True)
class Peer:
    """One connected client as the hub sees it."""

    client_id: str
    ws: web.WebSocketResponse
    transport: asyncio.Transport
    remote: str
    name: str | None = None
    behind_since: float | None = None
    missed: bool = field(default=False)
    close_code: int | None = None
    """The close code the server sent, when it closed the connection."""
    connected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When the connection was accepted (wall clock, UTC), as ``who`` reports it."""
    connected_seq: float = field(default_factory=time.monotonic)
    """When it was accepted on the monotonic clock: orders ``who`` even if the wall clock jumps."""

    @property
    def label(self) -> str:
        """How logs and ``started_by``/``ended_by`` name this client."""
        return f"{self.name} ({self.client_id})" if self.name else self.client_id


class Hub:
    """Connected peers, the latest state and presence frames, and the broadcast loop."""

    def __init__(
        self,
        *,
        send_buffer_limit: int,
        behind_timeout: float,
        metrics: Metrics,
        presence_delay: float = PRESENCE_DELAY,
    ) -> None:
        self._peers: set[Peer] = set()
        self._limit = send_buffer_limit
        self._behind_timeout = behind_timeout
        self._state_frame = b""
        self._presence_frame = b""
        self._notice_frame = b""
        self._sweep: asyncio.TimerHandle | None = None
        self._presence = PresencePacer(self._broadcast_presence, presence_delay)
        self._gc = GcFreezer(lambda: len(self._peers))
        self.metrics = metrics
        """The app's counters; the hub counts the peers it skips and cuts off."""
        self.closing = False
        self._client_ids = itertools.count(1)
        self.client_id_prefix = ""
        """Put before every client id: a cluster node's name, so ids differ across nodes."""
        self.clients_total: Callable[[int], int] = _these_only
        """The client count to announce, given this hub's own: the same here, the cluster's
        total in cluster mode (set by the cluster service)."""

    def __len__(self) -> int:
        return len(self._peers)

    @property
    def behind(self) -> int:
        """How many peers are currently skipped by broadcasts."""
        return sum(1 for peer in self._peers if peer.behind_since is not None)

    @property
    def peers(self) -> frozenset[Peer]:
        """A snapshot of the connected peers."""
        return frozenset(self._peers)

    def new_client_id(self) -> str:
        """A client id unique within this server's epoch (and across a cluster's nodes)."""
        return f"{self.client_id_prefix}c{next(self._client_ids)}"

    def add(self, peer: Peer, greeting: Callable[[int], Iterable[bytes]]) -> None:
        """Register ``peer`` and write it ``greeting(clients)``: its first frames (welcome, state).

        ``clients`` counts the peers connected, this one included. Registering and writing
        happen with no await in between, so no broadcast can slip between the greeting's
        snapshot and the peer's first broadcast.
        """
        self._peers.add(peer)
        frames = b"".join(text_frame(p) for p in greeting(self.clients_total(len(self._peers))))
        # one write, one syscall: handshakes are bound by per-connection syscalls
        peer.transport.write(frames + self._notice_frame)
        self._gc.connected()

    def remove(self, peer: Peer) -> bool:
        """Forget ``peer``; True if it was registered."""
        if peer in self._peers:
            self._peers.discard(peer)
            return True
        return False

    def send(self, peer: Peer, payload: bytes) -> None:
        """Write one reply to one peer, unless it is closing or behind.

        A peer that asks and never reads would otherwise grow its buffer without bound: it
        is marked behind like a slow broadcast receiver, its replies are dropped, it gets
        the latest snapshot when it drains, and is cut off if it does not.
        """
        transport = peer.transport
        if peer.ws.closed or transport.is_closing():
            return
        if peer.behind_since is None and transport.get_write_buffer_size() > self._limit:
            self._mark_behind(peer)
        if peer.behind_since is None:
            transport.write(text_frame(payload))
        else:
            self.metrics.peers_skipped += 1

    def broadcast_state(self, payload: bytes) -> None:
        """Fan a pre-encoded state message out to every peer."""
        self._state_frame = frame = text_frame(payload)
        self._fan_out(frame)

    def broadcast_notice(self, payload: bytes, *, lasting: bool) -> None:
        """Fan a pre-encoded notice out to every peer; a ``lasting`` one is also sent to each
        joiner after its first state (and to a peer catching up), until the next notice."""
        frame = text_frame(payload)
        self._notice_frame = frame if lasting else b""
        self._fan_out(frame)

    def presence_changed(self) -> None:
        """Schedule one presence broadcast; connects and leaves close together share it."""
        if not self.closing:
            self._presence.changed(len(self._peers))

    def _broadcast_presence(self) -> None:
        if self.closing:
            return
        clients = self.clients_total(len(self._peers))
        self._presence_frame = frame = text_frame(encode(Presence(clients=clients)))
        self._fan_out(frame)

    def _fan_out(self, frame: bytes) -> None:
        limit = self._limit
        for peer in self._peers:
            transport = peer.transport
            if peer.behind_since is not None:
                peer.missed = True
                self.metrics.peers_skipped += 1
            elif transport.get_write_buffer_size() > limit:
                self._mark_behind(peer)
            elif not (peer.ws.closed or transport.is_closing()):
                transport.write(frame)

    def _mark_behind(self, peer: Peer) -> None:
        peer.behind_since = asyncio.get_running_loop().time()
        peer.missed = True
        log.warning("client %s is behind, skipping it until it drains", peer.label)
        if self._sweep is None:
            self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweep = loop.call_later(SWEEP_INTERVAL, self._sweep_behind)

    def _sweep_behind(self) -> None:
        self._sweep = None
        now = asyncio.get_running_loop().time()
        still_behind = False
        for peer in list(self._peers):
            if peer.behind_since is None:
                continue
            transport = peer.transport
            if transport.is_closing():
                peer.behind_since = None
            elif transport.get_write_buffer_size() <= self._limit // 4:
                peer.behind_since = None
                if peer.missed:
                    peer.missed = False
                    transport.write(self._presence_frame + self._state_frame + self._notice_frame)
                log.info("client %s caught up", peer.label)
            elif now - peer.behind_since > self._behind_timeout:
                log.warning(
                    "client %s did not drain in %.1fs, cutting it off",
                    peer.label,
                    self._behind_timeout,
                )
                self.metrics.peers_cut_off += 1
                transport.abort()  # its handler then leaves the hub and presence follows
            else:
                still_behind = True
        if still_behind:
            self._schedule_sweep()

    def stop(self) -> None:
        """Stop the sweep timer; no more broadcasts are expected."""
        self.closing = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._presence.stop()
        self._gc.stop()
