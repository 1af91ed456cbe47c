"""Start and stop a server inside an already running event loop.

Used by ``calc-server``, by ``calc-tui --serve`` (same process, same loop) and by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from calc_server.app import make_app
from calc_server.config import Settings


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A server listening on ``host:port``; ``url`` is its WebSocket endpoint."""

    app: web.Application
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        """The ws:// URL of the WebSocket endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/ws"

    @property
    def http_url(self) -> str:
        """The http:// base URL (for /healthz and /schema)."""
        return self.url.replace("ws://", "http://", 1).removesuffix("/ws")

    async def stop(self) -> None:
        """Shut down gracefully: cancel a running calculation, close peers with 1001."""
        await self.runner.cleanup()


async def start_server(settings: Settings) -> RunningServer:
    """Bind and start serving; ``settings.port`` 0 picks a free port."""
    app = make_app(settings)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    return RunningServer(app=app, runner=runner, host=str(host), port=int(port))
