"""``calc-tui --serve``: a calc_server in the same process and event loop as the app.

The only calc_tui module that imports calc_server (a test checks this), so the client stays
usable without the server's code.
"""

from __future__ import annotations

import errno
import logging
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from textual.app import App
from textual.logging import TextualHandler

from calc_local.defaults import DEFAULT_PORT
from calc_local.tokenfile import remove_tokens, token_published
from calc_server.config import Settings
from calc_server.jobs import JobConfigError
from calc_server.runner import start_server
from calc_server.tokenfiles import listening_hosts
from calc_tui.hangup import ends_on_hangup

__all__ = ["serve_and_run"]


@contextmanager
def _server_logs_to_textual() -> Iterator[None]:
    """Send the server's log records to Textual's log, not over the screen; then restore."""
    logger = logging.getLogger("calc_server")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    # Into the app's log while it runs (seen with `textual console`); dropped before and after.
    logger.handlers[:] = [TextualHandler(stderr=False, stdout=False)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


async def serve_and_run(
    make: Callable[[str, str], App[None]],
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    stage_seconds: float = 2.0,
    token: str | None = None,
    headless: bool = False,
    job: tuple[str, ...] | None = None,
    job_cwd: str | None = None,
    job_grace: float = 10.0,
) -> int:
    """Start a server on ``host:port``, run the app ``make(url, token)`` against it, stop it.

    ``token`` None means a fresh random one. SIGTERM and SIGHUP (a closed SSH session) end
    the app like ``q`` does, so the server still shuts down cleanly and clients hear 1001.
    ``job`` (with ``job_cwd`` and ``job_grace``) runs a command as the calculation, as
    ``calc-server --job`` does. Returns the process exit code: 1 if the port cannot be bound,
    64 if the job cannot be run.
    """
    with _server_logs_to_textual():
        # The token is left in the token file: this app's own client and any `calc-tui` or
        # `calc` started on this machine for the same port find it there.
        token = token or secrets.token_urlsafe(32)
        settings = Settings(
            host=host,
            port=port,
            stage_seconds=stage_seconds,
            token=token,
            job=job,
            job_cwd=job_cwd,
            job_grace=job_grace,
        )
        try:
            server = await start_server(settings)
        except JobConfigError as exc:
            print(f"calc-tui: {exc}", file=sys.stderr)
            return 64
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno == errno.EADDRINUSE:
                reason = "the port is in use (choose another: calc-tui --serve --port N)"
            print(f"calc-tui: cannot serve on {host}:{port}: {reason}", file=sys.stderr)
            return 1
        hosts = listening_hosts(server.runner.addresses)  # gone once the server stops
        try:
            with token_published(server.port, token, hosts=hosts):
                app = make(server.url, token)
                # a process ended the hard way runs no finally: remove the files before it goes
                abandon = partial(remove_tokens, server.port, hosts)
                with ends_on_hangup(app, before_abandon=abandon):
                    await app.run_async(headless=headless)
        finally:
            await server.stop()
    return app.return_code or 0
