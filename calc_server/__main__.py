"""``calc-server`` / ``python -m calc_server``: run the server until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from calc_server.config import Settings, parse_settings
from calc_server.runner import start_server

log = logging.getLogger("calc_server")


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = await start_server(settings)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", settings.host, settings.port, exc.strerror)
        raise SystemExit(1) from None
    log.info("listening on %s (stage %gs)", server.url, settings.stage_seconds)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the settings, serve, and exit 0 after a graceful shutdown."""
    settings = parse_settings(argv)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
