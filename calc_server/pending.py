"""Connections that have not finished their handshake: bounded in time and in number.

aiohttp bounds the wait for a request (``keepalive_timeout``) but not a TLS handshake (the
loop's 60 s default) nor how many connections may be waiting; idle sockets that never send a
request could hold every descriptor. ``BoundedSite`` listens like ``web.TCPSite`` with the
TLS handshake bounded too, and ``PendingHandshakes`` closes the oldest waiting connection
when a new one would go over the bound: a real client finishes its handshake in
milliseconds, so it is never the oldest for long, while idle sockets are.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("calc_server.pending")


class PendingHandshakes:
    """The connections accepted and not yet upgraded, oldest first."""

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self._timeout = timeout
        self._pending: dict[RequestHandler, float] = {}
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._pending)

    def accepted(self, handler: RequestHandler) -> None:
        """A new connection: track it, closing the oldest waiting ones over the bound."""
        now = asyncio.get_running_loop().time()
        while len(self._pending) >= self.limit:
            oldest, since = next(iter(self._pending.items()))
            del self._pending[oldest]
            if oldest.transport is None and now - since < self._timeout:
                continue  # a TLS handshake still running: its own timeout ends it
            if oldest.transport is not None:
                self.evicted += 1
                if self.evicted in (1, 10, 100) or self.evicted % 1000 == 0:
                    log.warning(
                        "%d connections waiting for their handshake is the bound: closed the "
                        "oldest (%d so far)",
                        self.limit,
                        self.evicted,
                    )
                oldest.force_close()
        self._pending[handler] = now

    def upgraded(self, handler: object) -> None:
        """``handler``'s connection became a WebSocket peer: it no longer counts."""
        self._pending.pop(handler, None)  # type: ignore[call-overload]


class BoundedSite(web.TCPSite):
    """A ``web.TCPSite`` whose connections go through ``PendingHandshakes`` and whose TLS
    handshakes end after ``handshake_timeout`` seconds, like the plain request wait."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        pending: PendingHandshakes,
        handshake_timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._pending = pending
        self._handshake_timeout = handshake_timeout

    def _accept(self) -> RequestHandler:
        server = self._runner.server
        assert server is not None
        handler = server()
        self._pending.accepted(handler)
        return handler

    async def start(self) -> None:
        """Listen, as ``web.TCPSite.start`` does, with the bounds above."""
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._accept,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
            ssl_handshake_timeout=self._handshake_timeout if self._ssl_context else None,
        )
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]
        else:
            self._bound_port = self._port
