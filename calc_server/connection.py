"""One WebSocket connection: decode each frame once, dispatch it, answer the sender."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from calc_server import history_requests
from calc_server.admission import admit
from calc_server.calculation import Outcome
from calc_server.features import features
from calc_server.frames import pong_frame
from calc_server.history import HistoryReader
from calc_server.history_requests import run_message
from calc_server.hub import Hub, Peer, PeerWebSocket
from calc_server.keys import HISTORY, HUB, METRICS, PENDING, SERVICE, SETTINGS
from calc_server.masking import require_masked_frames
from calc_server.metrics import Metrics
from calc_server.ratelimit import TokenBucket
from calc_server.service_api import Service
from calc_server.version import __version__
from calc_server.who import who_answer
from protocol import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Error,
    ErrorCode,
    Hello,
    HistoryQuery,
    Logs,
    Start,
    Sync,
    Welcome,
    Who,
    client_decoder,
    encode,
)
from protocol.codec import request_id_of

log = logging.getLogger("calc_server.connection")

RATE_LIMIT_CLOSE_AFTER = 20
"""Messages refused in a row for the rate limit before the connection is closed with 1008."""

REMEMBERED_REQUESTS = 256
"""How many request ids per connection are remembered to answer repeats identically."""

MAX_ERROR_TEXT = 200
"""Longest ``error.message`` (and log excerpt) for a bad frame, in characters."""

_BUDGETED = frozenset({WSMsgType.TEXT, WSMsgType.PING, WSMsgType.PONG})
"""Frames that spend the client's message budget."""

NO_STATUS_RECEIVED = 1005
"""RFC 6455 code for a close frame that carried no status code."""


class Connection:
    """Reads one client's frames and turns them into commands and answers."""

    def __init__(
        self,
        peer: Peer,
        hub: Hub,
        service: Service,
        bucket: TokenBucket,
        metrics: Metrics,
        history: HistoryReader,
    ):
        self.peer = peer
        self._hub = hub
        self._metrics = metrics
        self._service = service
        self._bucket = bucket
        self._answers: OrderedDict[str, bytes] | None = None  # made on the first command
        self._history = history
        self._reading: set[asyncio.Task[None]] = set()  # history requests being answered

    async def serve(self) -> None:
        """Handle frames until the peer closes or must be closed."""
        ws = self.peer.ws
        loop = asyncio.get_running_loop()
        try:
            await self._serve(ws, loop)
        finally:
            for task in self._reading:
                task.cancel()

    async def _serve(self, ws: web.WebSocketResponse, loop: asyncio.AbstractEventLoop) -> None:
        async for msg in ws:
            # pings and pongs are messages too: a ping flood costs the server as much
            if msg.type in _BUDGETED:
                over = self._bucket.take(loop.time())
                if over == 0 and msg.type is WSMsgType.TEXT:
                    await self._handle(msg.data)
                elif over == 0 and msg.type is WSMsgType.PING:
                    # through the hub: a peer that does not read its pongs is marked behind
                    self._hub.send_frame(self.peer, pong_frame(msg.data))
                elif over == 1:
                    self._error(ErrorCode.RATE_LIMITED, "too many messages; slow down")
                elif over > RATE_LIMIT_CLOSE_AFTER:
                    log.warning("client %s kept flooding, closing 1008", self.peer.label)
                    await self.close(WSCloseCode.POLICY_VIOLATION, b"rate limit")
            elif msg.type is WSMsgType.BINARY:
                log.warning("client %s sent a binary frame, closing 1003", self.peer.label)
                await self.close(WSCloseCode.UNSUPPORTED_DATA, b"binary frames are not supported")
            elif msg.type is WSMsgType.ERROR:
                log.warning("client %s: %s", self.peer.label, ws.exception())

    def unmasked(self) -> None:
        """The client sent an unmasked frame: it is being closed with 1002 (RFC 6455 5.1)."""
        log.warning("client %s sent an unmasked frame, closing 1002", self.peer.label)
        self.peer.close_code = WSCloseCode.PROTOCOL_ERROR

    async def close(self, code: int, reason: bytes) -> None:
        """Close with ``code``, remembered for the disconnect log line."""
        self.peer.close_code = code
        await self.peer.ws.close(code=code, message=reason)

    async def _handle(self, data: bytes) -> None:
        try:
            message = client_decoder.decode(data)
        except msgspec.DecodeError as exc:
            # the decoder quotes offending values; a huge frame must not come back or be logged
            text = str(exc)
            if len(text) > MAX_ERROR_TEXT:
                # keep msgspec's " - at `$.field`": it says which field was wrong
                head, at, where = text.rpartition(" - at `")
                tail = at + where if at and len(where) < 80 else ""
                head = head if tail else text
                text = head[: MAX_ERROR_TEXT - 1 - len(tail)] + "…" + tail
            log.info("client %s sent a bad message: %r", self.peer.label, text)
            self._metrics.bad_messages += 1
            self._error(ErrorCode.BAD_MESSAGE, text, request_id_of(data))
            return
        match message:
            case Hello(protocol=protocol, client=name):
                if protocol != PROTOCOL_VERSION:
                    self._error(
                        ErrorCode.UNSUPPORTED_PROTOCOL,
                        f"this server speaks protocol {PROTOCOL_VERSION}, not {protocol}",
                    )
                    return
                self.peer.name = name
                log.info("client %s says hello", self.peer.label)
            case Start(request_id=rid):
                await self._command(rid, lambda: self._service.start(self.peer.label))
            case Cancel(request_id=rid, calculation_id=cid):
                await self._command(rid, lambda: self._service.cancel(self.peer.label, cid))
            case Sync(request_id=rid):
                state = self._service.snapshot()
                self._hub.send(self.peer, encode(state))
                self._hub.send(self.peer, encode(Ack(request_id=rid, accepted=True, seq=state.seq)))
            case HistoryQuery() as query:
                self._answer_later(history_requests.answer(query, self._history))
            case Logs() as request:
                self._hub.send(self.peer, self._service.output.logs(request))
            case Who(request_id=rid):
                self._hub.send(self.peer, encode(who_answer(rid, self._hub.peers)))

    def _answer_later(self, answer: Coroutine[Any, Any, bytes]) -> None:
        """Send ``answer`` when it is ready; frames keep being read meanwhile."""

        async def send() -> None:
            self._hub.send(self.peer, await answer)

        task = asyncio.create_task(send())
        self._reading.add(task)
        task.add_done_callback(self._reading.discard)

    async def _command(
        self, request_id: str, run: Callable[[], Outcome | Awaitable[Outcome]]
    ) -> None:
        if self._answers is None:
            self._answers = OrderedDict()
        answer = self._answers.get(request_id)
        if answer is None:
            result = run()
            # a single server answers at once; a cluster node awaits Redis
            outcome = result if isinstance(result, Outcome) else await result
            answer = encode(
                Ack(
                    request_id=request_id,
                    accepted=outcome.accepted,
                    reason=outcome.reason,
                    seq=outcome.seq,
                )
            )
            if not outcome.accepted:
                log.info("client %s: rejected (%s)", self.peer.label, outcome.reason)
            self._answers[request_id] = answer
            if len(self._answers) > REMEMBERED_REQUESTS:
                self._answers.popitem(last=False)
        self._hub.send(self.peer, answer)

    def _error(self, code: ErrorCode, text: str, request_id: str | None = None) -> None:
        self._hub.send(self.peer, encode(Error(code=code, message=text, request_id=request_id)))


def _remote(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(request.remote)


async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    """``GET /ws``: upgrade, greet with welcome and state, then serve the connection."""
    app = request.app
    settings, hub, service, metrics = app[SETTINGS], app[HUB], app[SERVICE], app[METRICS]
    history = app[HISTORY]
    await admit(request)
    ws = PeerWebSocket(
        heartbeat=settings.heartbeat,
        autoping=False,  # Connection answers pings itself, within the client's budget
        timeout=settings.behind_timeout,  # a close handshake the peer does not answer
        compress=False,
        max_msg_size=settings.max_message_bytes,
        decode_text=False,
    )
    await ws.prepare(request)
    if (pending := app.get(PENDING)) is not None:
        pending.upgraded(request.protocol)
    transport = request.transport
    if transport is None or hub.closing:
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        return ws
    peer = Peer(
        client_id=hub.new_client_id(),
        ws=ws,
        transport=transport,
        remote=_remote(request),
    )

    offered = features(settings)

    def greeting(clients: int) -> list[bytes]:
        state = service.snapshot()
        last = history.last_run
        welcome = Welcome(
            protocol=PROTOCOL_VERSION,
            server=__version__,
            epoch=state.epoch,
            client_id=peer.client_id,
            clients=clients,
            features=offered,
            node=settings.node,
            last_run=None if last is None else run_message(last, with_tail=False),
        )
        # the last run's latest lines right after its state: a late joiner sees what it missed
        return [encode(welcome), encode(state), *service.output.tail()]

    hub.add(peer, greeting)
    metrics.connections += 1
    log.info("connect %s from %s, %d connected", peer.client_id, peer.remote, len(hub))
    hub.presence_changed()
    bucket = TokenBucket(settings.rate_burst, settings.rate_per_second)
    connection = Connection(peer, hub, service, bucket, metrics, history.store)
    require_masked_frames(request, connection.unmasked)
    try:
        await connection.serve()
    except ConnectionError:
        pass  # the peer went away (reset, or lost while we wrote): an ordinary disconnect
    except Exception:
        log.exception("error on connection %s, closing 1011", peer.label)
        await connection.close(WSCloseCode.INTERNAL_ERROR, b"internal error")
    finally:
        if transport.get_write_buffer_size():
            transport.abort()  # unsent bytes after the end: the peer stopped reading
        if hub.remove(peer):
            log.info(
                "disconnect %s from %s (code %d), %d connected",
                peer.label,
                peer.remote,
                peer.close_code or ws.close_code or NO_STATUS_RECEIVED,
                len(hub),
            )
            hub.presence_changed()
    return ws
