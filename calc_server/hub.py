"""The set of connected peers and the fan-out of pre-encoded frames to them.

Presence pacing lives in ``presence.py``, GC tuning in ``gctuning.py``, counters in
``metrics.py``; the hub only calls them.

A broadcast is one plain loop writing the same pre-built frame to every peer: no task or
queue per peer, no await. A peer whose transport holds nothing unsent gets the frame straight
on its socket, the system call the transport's own ``write`` would make, at less cost; one with
bytes pending goes through ``transport.write`` behind them, so bytes never overtake each other.

The loop's cost per peer is mostly memory it has to touch, so it touches only the transport:
state that changes rarely is kept by moving the peer between collections instead of being
checked on every broadcast. A peer whose unsent bytes exceed a limit leaves the broadcast list
and is marked behind; a single sweep timer, which looks only at those peers, hands it the latest
snapshot once it has drained to a quarter of the limit, or cuts it off if it does not drain in
time. State messages are full snapshots, so skipping some is safe. A peer about to be sent a
Close frame (``PeerWebSocket.close``) leaves both lists, since no frame may follow a Close.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import WSCloseCode, web

from calc_server.frames import direct_fd, text_frame
from calc_server.gctuning import GcFreezer
from calc_server.metrics import Metrics
from calc_server.presence import PRESENCE_DELAY, PresencePacer
from calc_server.targets import Targets
from protocol import Presence, encode

log = logging.getLogger("calc_server.hub")

SWEEP_INTERVAL = 0.1
"""Seconds between checks of peers that are behind."""


def _these_only(clients: int) -> int:
    """A single server's count: the peers of this hub."""
    return clients


class PeerWebSocket(web.WebSocketResponse):
    """aiohttp's server WebSocket, telling the hub before it sends a Close frame.

    aiohttp closes from inside as well (answering a client's Close, a protocol error, a
    message too big), always through ``close``; this is the one place to learn that no
    broadcast frame may be written to this peer any more.
    """

    # a slot, not an instance attribute: a 30th key in aiohttp's instance dict turns its
    # shared-key dict (296 bytes) into a full one (1.6 KiB), for every connection
    __slots__ = ("_before_close",)

    def on_close(self, hook: Callable[[PeerWebSocket], None] | None) -> None:
        """Call ``hook(self)`` once, just before a Close frame is sent (None: no hook)."""
        self._before_close = hook

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        """Tell the ``on_close`` hook (once), then close as aiohttp does."""
        hook: Callable[[PeerWebSocket], None] | None = getattr(self, "_before_close", None)
        if hook is not None:
            self._before_close = None
            hook(self)
        return await super().close(code=code, message=message, drain=drain)


@dataclass(eq=False, slots=True)
class Peer:
    """One connected client as the hub sees it."""

    client_id: str
    ws: PeerWebSocket
    transport: asyncio.Transport
    remote: str
    name: str | None = None
    behind_since: float | None = None
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
        self._peers: dict[PeerWebSocket, Peer] = {}
        """Every registered peer, by its WebSocket (which is how a close announces itself)."""
        self._on_close = self._ws_closing  # one bound method shared by every peer's hook
        self._targets: Targets[Peer] = Targets()
        """The peers a broadcast writes to: all but those behind or closing."""
        self._behind: dict[Peer, int] = {}
        """The peers skipped until they drain (``_sweep_behind``), with their fd."""
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
        return len(self._behind)

    @property
    def peers(self) -> frozenset[Peer]:
        """A snapshot of the connected peers."""
        return frozenset(self._peers.values())

    def new_client_id(self) -> str:
        """A client id unique within this server's epoch (and across a cluster's nodes)."""
        return f"{self.client_id_prefix}c{next(self._client_ids)}"

    def add(self, peer: Peer, greeting: Callable[[int], Iterable[bytes]]) -> None:
        """Register ``peer`` and write it ``greeting(clients)``: its first frames (welcome, state).

        ``clients`` counts the peers connected, this one included. Registering and writing
        happen with no await in between, so no broadcast can slip between the greeting's
        snapshot and the peer's first broadcast.
        """
        transport = peer.transport
        self._peers[peer.ws] = peer
        if not peer.ws.closed:
            self._targets.add(peer, transport, direct_fd(transport))
            peer.ws.on_close(self._on_close)
        frames = b"".join(text_frame(p) for p in greeting(self.clients_total(len(self._peers))))
        # one write, one syscall: handshakes are bound by per-connection syscalls
        transport.write(frames + self._notice_frame)
        self._gc.connected()

    def remove(self, peer: Peer) -> bool:
        """Forget ``peer``; True if it was registered."""
        if self._peers.get(peer.ws) is not peer:
            return False
        del self._peers[peer.ws]
        self._closing(peer)
        peer.ws.on_close(None)
        self._gc.departed()
        return True

    def _ws_closing(self, ws: PeerWebSocket) -> None:
        peer = self._peers.get(ws)
        if peer is not None:
            self._closing(peer)

    def _closing(self, peer: Peer) -> None:
        """No frame may be written to ``peer`` any more: it leaves the broadcast lists."""
        self._targets.pop(peer)
        self._behind.pop(peer, None)

    def send(self, peer: Peer, payload: bytes) -> None:
        """Write one reply to one peer, unless it is closing or behind.

        A peer that asks and never reads would otherwise grow its buffer without bound: it
        is marked behind like a slow broadcast receiver, its replies are dropped, it gets
        the latest snapshot when it drains, and is cut off if it does not.
        """
        self.send_frame(peer, text_frame(payload))

    def send_frame(self, peer: Peer, frame: bytes) -> None:
        """Write one complete frame (a reply, a pong) to one peer, with ``send``'s rules."""
        transport = peer.transport
        if peer in self._behind:
            self.metrics.peers_skipped += 1
        elif peer not in self._targets or transport.is_closing():
            return
        elif transport.get_write_buffer_size() > self._limit:
            self._mark_behind(peer)
            self.metrics.peers_skipped += 1
        else:
            transport.write(frame)

    def broadcast_state(self, payload: bytes) -> None:
        """Fan a pre-encoded state message out to every peer."""
        self._state_frame = frame = text_frame(payload)
        self.broadcast(frame)

    def broadcast_notice(self, payload: bytes, *, lasting: bool) -> None:
        """Fan a pre-encoded notice out to every peer; a ``lasting`` one is also sent to each
        joiner after its first state (and to a peer catching up), until the next notice."""
        frame = text_frame(payload)
        self._notice_frame = frame if lasting else b""
        self.broadcast(frame)

    @property
    def writable(self) -> int:
        """How many peers a broadcast writes to now (not behind, not closing)."""
        return len(self._targets)

    def broadcast_output(self, frame: bytes, part: int = 0, parts: int = 1) -> None:
        """Write a pre-built ``output`` frame (``text_frame``) to the peers with nothing unsent.

        Only the peers in slots ``part``, ``part + parts``, ... of the broadcast list, so a
        caller can spread one message over time (a peer that moves slot when another leaves
        may miss one message or get it twice; clients keep lines by offset). Output is lossy
        and a state must never wait behind it: a peer whose transport still holds bytes, or
        whose socket takes nothing now, skips the message (it sees a gap in the offsets and
        may ask ``logs``), so at most the rest of one output frame ever sits in front of the
        next state, and output never marks a peer behind.
        """
        size = len(frame)
        write = os.write
        skipped = len(self._behind) if part == 0 else 0
        targets = self._targets
        transports = targets.transports[part::parts]
        fds = targets.fds[part::parts]
        for transport, fd in zip(transports, fds, strict=True):
            if transport.is_closing():
                continue  # its fd may already be closed, and its number reused
            if transport.get_write_buffer_size():
                skipped += 1
            elif fd < 0:
                transport.write(frame)
            else:
                try:
                    sent = write(fd, frame)
                except BlockingIOError:  # the socket is full: this message is skipped
                    skipped += 1
                except OSError:  # broken: the transport finds out and closes as it always does
                    transport.write(frame)
                else:
                    if sent != size:
                        transport.write(frame[sent:])
        self.metrics.output_skipped += skipped

    def presence_changed(self) -> None:
        """Schedule one presence broadcast; connects and leaves close together share it."""
        if not self.closing:
            self._presence.changed(len(self._peers))

    def _broadcast_presence(self) -> None:
        if self.closing:
            return
        clients = self.clients_total(len(self._peers))
        self._presence_frame = frame = text_frame(encode(Presence(clients=clients)))
        self.broadcast(frame)

    def broadcast(self, frame: bytes) -> None:
        """Write one complete pre-built frame to every peer that is not behind or closing.

        The server's hot loop, kept to what the numbers justify (``python -m bench.sendpath``):
        two flat arrays read in order, the transport asked two questions, and ``os.write`` on the
        socket when nothing is pending. Bytes the socket does not take, and every error, go to
        ``transport.write``, which queues them or closes the connection as it always does.
        """
        over: list[asyncio.Transport] = []
        limit = self._limit
        size = len(frame)
        write = os.write
        targets = self._targets
        for transport, fd in zip(targets.transports, targets.fds, strict=True):
            if transport.is_closing():
                continue  # its fd may already be closed, and its number reused
            pending = transport.get_write_buffer_size()
            if pending == 0 and fd >= 0:
                try:
                    sent = write(fd, frame)
                except OSError:  # full (EAGAIN) or broken: the transport handles both
                    transport.write(frame)
                else:
                    if sent != size:
                        transport.write(frame[sent:])
            elif pending <= limit:
                transport.write(frame)  # queued behind the pending bytes, in order
            else:
                over.append(transport)
        if over:
            for peer in targets.keys_of(over):
                self._mark_behind(peer)
        self.metrics.peers_skipped += len(self._behind)

    def _mark_behind(self, peer: Peer) -> None:
        fd = self._targets.pop(peer)
        self._behind[peer] = -1 if fd is None else fd
        peer.behind_since = asyncio.get_running_loop().time()
        log.warning("client %s is behind, skipping it until it drains", peer.label)
        if self._sweep is None:
            self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweep = loop.call_later(SWEEP_INTERVAL, self._sweep_behind)

    def _sweep_behind(self) -> None:
        self._sweep = None
        now = asyncio.get_running_loop().time()
        for peer in list(self._behind):
            transport = peer.transport
            if transport.is_closing():
                self._catch_up(peer)
            elif transport.get_write_buffer_size() <= self._limit // 4:
                self._catch_up(peer)
                # it missed at least the broadcast that found it over the limit
                transport.write(self._presence_frame + self._state_frame + self._notice_frame)
                log.info("client %s caught up", peer.label)
            elif now - (peer.behind_since or now) > self._behind_timeout:
                log.warning(
                    "client %s did not drain in %.1fs, cutting it off",
                    peer.label,
                    self._behind_timeout,
                )
                self.metrics.peers_cut_off += 1
                transport.abort()  # its handler then leaves the hub and presence follows
        if self._behind:
            self._schedule_sweep()

    def _catch_up(self, peer: Peer) -> None:
        """Put a peer that was behind back on the broadcast list."""
        self._targets.add(peer, peer.transport, self._behind.pop(peer))
        peer.behind_since = None

    def stop(self) -> None:
        """Stop the sweep timer; no more broadcasts are expected."""
        self.closing = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self._presence.stop()
        self._gc.stop()
