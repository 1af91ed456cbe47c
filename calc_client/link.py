"""One WebSocket connection to calc_server: the handshake, commands out, messages in."""

from __future__ import annotations

import itertools
import logging
import os
from ssl import SSLContext
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
import msgspec
from aiohttp import WSCloseCode, WSMsgType

from calc_client.refusals import describe_refusal, is_final
from calc_client.security import discover_token, localhost_target
from protocol import (
    PROTOCOL_VERSION,
    Cancel,
    ClientMessage,
    Hello,
    HistoryQuery,
    Logs,
    ServerMessage,
    Start,
    Sync,
    Welcome,
    Who,
    encode,
    server_decoder,
)
from protocol.bearer import token_problem

log = logging.getLogger("calc_client.link")

CLIENT_HEARTBEAT = 10.0
"""Seconds between the client's pings; a silent server is noticed within this and a half."""

_CLOSE_REASONS = {
    WSCloseCode.GOING_AWAY: "server shutting down",
    WSCloseCode.POLICY_VIOLATION: "closed by server policy",
    WSCloseCode.MESSAGE_TOO_BIG: "message too big",
    WSCloseCode.UNSUPPORTED_DATA: "unsupported data",
    WSCloseCode.INTERNAL_ERROR: "server error",
}


class ConnectFailed(Exception):
    """The connection could not be opened. ``retryable`` is False for final refusals (4xx)."""

    def __init__(self, reason: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status


class Link:
    """An open connection that has received ``welcome``.

    Iterate it for server messages; it ends when the connection closes, after which
    ``close_code`` and ``close_reason`` say why.
    """

    def __init__(
        self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, welcome: Welcome
    ) -> None:
        self._session = session
        self._ws = ws
        self.welcome = welcome
        self._ids = itertools.count(1)
        self.close_reason = "connection closed"

    @property
    def closed(self) -> bool:
        """True once the connection is closed or closing."""
        return self._ws.closed

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code, once closed."""
        return self._ws.close_code

    def next_request_id(self) -> str:
        """A request id unique on this connection."""
        return f"{self.welcome.client_id}-{next(self._ids)}"

    async def send(self, message: ClientMessage) -> None:
        """Send one message; raises ``ConnectionError`` if the link is closed."""
        if self._ws.closed:
            raise ConnectionResetError("not connected")
        await self._ws.send_frame(encode(message), WSMsgType.TEXT)

    async def start(self) -> str:
        """Ask for a new calculation; returns the request id the ack will carry."""
        rid = self.next_request_id()
        await self.send(Start(request_id=rid))
        return rid

    async def cancel(self, calculation_id: str | None = None) -> str:
        """Ask to cancel the running calculation; returns the request id."""
        rid = self.next_request_id()
        await self.send(Cancel(request_id=rid, calculation_id=calculation_id))
        return rid

    async def sync(self) -> str:
        """Ask for the current state; returns the request id."""
        rid = self.next_request_id()
        await self.send(Sync(request_id=rid))
        return rid

    async def history(
        self, limit: int = 20, before: str | None = None, calculation_id: str | None = None
    ) -> str:
        """Ask for a page of past runs (or one run, whole); returns the request id."""
        rid = self.next_request_id()
        query = HistoryQuery(
            request_id=rid, limit=limit, before=before, calculation_id=calculation_id
        )
        await self.send(query)
        return rid

    async def logs(
        self, since: int | None = None, limit: int = 100, calculation_id: str | None = None
    ) -> str:
        """Ask for a job's kept output lines; returns the request id the ``output`` will carry."""
        rid = self.next_request_id()
        await self.send(
            Logs(request_id=rid, since=since, limit=limit, calculation_id=calculation_id)
        )
        return rid

    async def who(self) -> str:
        """Ask who is connected (servers offering "who"); returns the request id."""
        rid = self.next_request_id()
        await self.send(Who(request_id=rid))
        return rid

    def __aiter__(self) -> Link:
        return self

    async def __anext__(self) -> ServerMessage:
        """The next server message; ``StopAsyncIteration`` once the connection has closed.

        A plain coroutine, not a generator: a caller may bound a wait with a timeout and, when
        it expires, the link is still there to close or read again.
        """
        ws = self._ws
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT:
                try:
                    return server_decoder.decode(msg.data)
                except msgspec.DecodeError as exc:
                    # a newer server's message type or field value: skip what we cannot read
                    log.debug("ignored a message this client does not know: %s", exc)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                break
            elif msg.type is WSMsgType.ERROR:
                self.close_reason = f"connection error: {ws.exception() or 'unknown'}"
                break
        code = ws.close_code
        if code is not None and self.close_reason == "connection closed":
            self.close_reason = _describe_close(code)
        await self.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Close the connection and its HTTP session."""
        await self._ws.close()
        await self._session.close()

    async def __aenter__(self) -> Link:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _describe_close(code: int) -> str:
    try:
        known = _CLOSE_REASONS.get(WSCloseCode(code))
    except ValueError:
        known = None
    if code == WSCloseCode.OK:
        return "closed by server"
    if code == WSCloseCode.ABNORMAL_CLOSURE:
        return "no close handshake (code 1006)"
    return f"{known or 'closed'} (code {code})"


async def connect(
    url: str,
    *,
    name: str | None = None,
    timeout: float = 5.0,
    heartbeat: float = CLIENT_HEARTBEAT,
    token: str | None = None,
    ssl: SSLContext | bool = True,
) -> Link:
    """Open a connection, say hello, and wait for ``welcome``.

    ``token`` None means: ``CALC_TOKEN``, else the local token file (looked up again at every
    call, so a restarted local server's new token is found). ``ssl`` is for wss:// URLs:
    True verifies against the system CAs, a context trusts what it was given, False does not
    verify. Raises ``ConnectFailed`` with a plain-words reason; refusals are not retryable.
    """
    dial, server_name = url, None
    if token is None:
        token = discover_token(url)
        if token is None and (target := localhost_target(url)) is not None:
            # the token belongs to one address: dial it, still asking for "localhost"
            (dial, token), server_name = target, "localhost"
    if token and (problem := token_problem(token)):
        # aiohttp would raise a bare ValueError on a control character: say what is wrong
        raise ConnectFailed(f"invalid token: {problem}", retryable=False)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if server_name is not None:
        headers["Host"] = urlsplit(url).netloc
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout)
    )
    try:
        ws = await session.ws_connect(
            dial,
            server_hostname=server_name,
            headers=headers,
            ssl=ssl,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout),
            heartbeat=heartbeat,
            autoping=True,
            compress=0,
            max_msg_size=1 << 20,
        )
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        raise ConnectFailed(
            describe_refusal(exc.status, url),
            retryable=not is_final(exc.status),
            status=exc.status,
        ) from exc
    except aiohttp.InvalidURL as exc:
        await session.close()
        raise ConnectFailed(f"invalid URL: {exc}", retryable=False) from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        await session.close()
        reason = f"TLS certificate not trusted: {exc.certificate_error}"
        raise ConnectFailed(reason, retryable=False) from exc
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await session.close()
        raise ConnectFailed(_describe_error(exc), retryable=True) from exc
    except BaseException:
        await session.close()
        raise
    try:
        if name:
            hello = Hello(protocol=PROTOCOL_VERSION, client=name[:64])
            await ws.send_frame(encode(hello), WSMsgType.TEXT)
        msg = await ws.receive(timeout=timeout)
        welcome = server_decoder.decode(msg.data) if msg.type is WSMsgType.TEXT else None
    except (aiohttp.ClientError, OSError, TimeoutError, msgspec.DecodeError) as exc:
        await ws.close()
        await session.close()
        raise ConnectFailed(_describe_error(exc), retryable=True) from exc
    except BaseException:
        await ws.close()
        await session.close()
        raise
    if not isinstance(welcome, Welcome):
        code = ws.close_code
        await ws.close()
        await session.close()
        if code == WSCloseCode.POLICY_VIOLATION:
            raise ConnectFailed(_describe_close(code), retryable=False)
        raise ConnectFailed("server did not say welcome", retryable=True)
    return Link(session, ws, welcome)


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = exc.os_error.errno
        if errno and errno > 0:  # name resolution failures carry negative (gai) codes
            return f"cannot connect: {os.strerror(errno)}"
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    return str(exc) or type(exc).__name__
