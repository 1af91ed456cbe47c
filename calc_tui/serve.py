"""``calc-tui --serve``: a calc_server in the same process and event loop as the app.

The only calc_tui module that imports calc_server (a test checks this), so the client stays
usable without the server's code.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from textual.app import App
from textual.logging import TextualHandler

from calc_server.config import DEFAULT_PORT, Settings
from calc_server.runner import start_server

__all__ = ["DEFAULT_PORT", "serve_and_run"]


def _quiet_server_logs() -> None:
    """Send the server's log records to Textual's log instead of over the screen."""
    logger = logging.getLogger("calc_server")
    logger.handlers[:] = [TextualHandler()]
    logger.setLevel(logging.INFO)
    logger.propagate = False


async def serve_and_run(
    make: Callable[[str], App[None]],
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    stage_seconds: float = 2.0,
) -> int:
    """Start a server on ``host:port``, run the app ``make(url)`` against it, then stop it.

    Returns the process exit code: 1 if the port cannot be bound.
    """
    _quiet_server_logs()
    try:
        server = await start_server(Settings(host=host, port=port, stage_seconds=stage_seconds))
    except OSError as exc:
        print(f"calc-tui: cannot serve on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        app = make(server.url)
        await app.run_async()
    finally:
        await server.stop()
    return app.return_code or 0
