"""Start and stop a server inside an already running event loop.

Used by ``calc-server``, by ``calc-tui --serve`` (same process, same loop) and by the tests.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from aiohttp import web

from calc_server.app import make_app
from calc_server.config import Settings
from calc_server.fdlimit import pending_bound
from calc_server.httplog import REQUEST_LOG
from calc_server.keys import PENDING
from calc_server.pending import BoundedSite, PendingHandshakes


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A server listening on ``host:port``; ``url`` is its WebSocket endpoint."""

    app: web.Application
    runner: web.AppRunner
    host: str
    port: int
    tls: bool = False

    @property
    def url(self) -> str:
        """The ws:// (or wss://) URL of the WebSocket endpoint."""
        return f"{'wss' if self.tls else 'ws'}://{self._authority}/ws"

    @property
    def http_url(self) -> str:
        """The http:// (or https://) base URL, for /healthz and /schema."""
        return f"{'https' if self.tls else 'http'}://{self._authority}"

    @property
    def _authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def stop(self) -> None:
        """Shut down gracefully: cancel a running calculation, close peers with 1001."""
        await self.runner.cleanup()


async def start_server(settings: Settings) -> RunningServer:
    """Bind and start serving; ``settings.port`` 0 picks a free port.

    Raises ``ValueError`` for unsafe settings, ``OSError`` when the address cannot be bound
    or the TLS files cannot be read, ``ssl.SSLError`` when they are not a valid key pair.
    """
    app = make_app(settings)
    pending = PendingHandshakes(pending_bound(), settings.handshake_timeout)
    app[PENDING] = pending
    ssl_context = None
    if settings.tls_cert is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_context.load_cert_chain(settings.tls_cert, settings.tls_key)
        except OSError as exc:  # ssl.SSLError included: say which files, not just why
            files = f"{settings.tls_cert} / {settings.tls_key}"
            reason = f"TLS certificate or key {files}: {exc.strerror or exc}"
            raise OSError(exc.errno, reason) from None
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        logger=REQUEST_LOG,  # no traceback, no header value: a credential never reaches the log
        shutdown_timeout=settings.shutdown_timeout,
        # also bounds how long a new connection may take to send its handshake request
        keepalive_timeout=settings.handshake_timeout,
    )
    await runner.setup()
    site = BoundedSite(
        runner,
        settings.host,
        settings.port,
        ssl_context=ssl_context,
        reuse_port=settings.reuse_port or None,
        pending=pending,
        handshake_timeout=settings.handshake_timeout,
    )
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    return RunningServer(
        app=app, runner=runner, host=str(host), port=int(port), tls=ssl_context is not None
    )
