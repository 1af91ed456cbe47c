"""The one owner of the socket: a Reconnector whose events become Textual messages.

The worker that runs ``ServerConnection.pump`` only posts messages; the app reacts to them.
Commands go out on the current link and are never queued: without a link they are not sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from ssl import SSLContext

from textual.message import Message

from calc_client.link import Link
from calc_client.reconnect import (
    Backoff,
    Connected,
    Connecting,
    Disconnected,
    Event,
    Received,
    Reconnector,
)
from calc_local.defaults import client_name
from calc_tui.messages import (
    ConnectionAttempted,
    ConnectionLost,
    ConnectionOpened,
    ServerMessageReceived,
)


def translate(event: Event) -> Message:
    """The Textual message for one Reconnector event."""
    match event:
        case Connecting(attempt=attempt):
            return ConnectionAttempted(attempt)
        case Connected(link=link):
            return ConnectionOpened(link.welcome)
        case Received(message=message):
            return ServerMessageReceived(message)
        case Disconnected(reason=reason, attempt=attempt, retry_in=retry_in):
            return ConnectionLost(reason, attempt, retry_in)


class ServerConnection:
    """Keeps a connection to ``url`` open while ``pump`` runs; sends commands on it."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        backoff: Backoff | None = None,
        token: str | None = None,
        ssl: SSLContext | bool = True,
    ):
        self.url = url
        self._reconnector = Reconnector(
            url, name=name or client_name("calc-tui"), backoff=backoff, token=token, ssl=ssl
        )

    async def pump(self, post: Callable[[Message], object]) -> None:
        """Post a message for every connection event, until cancelled."""
        # events() is an async generator: closing it closes the link it holds.
        async with aclosing(self._reconnector.events()) as events:
            async for event in events:
                post(translate(event))

    def retry_now(self) -> None:
        """Skip the backoff wait (or a refusal) and connect again at once."""
        self._reconnector.retry_now()

    async def start(self) -> str | None:
        """Send ``start``; the request id, or None when there is no connection to send it on."""
        return await self._send(lambda link: link.start())

    async def cancel(self, calculation_id: str | None) -> str | None:
        """Send ``cancel`` for ``calculation_id``; the request id, or None when not connected."""
        return await self._send(lambda link: link.cancel(calculation_id))

    async def _send(self, send: Callable[[Link], Awaitable[str]]) -> str | None:
        link = self._reconnector.link
        if link is None or link.closed:
            return None
        try:
            return await send(link)
        except ConnectionError:
            return None
