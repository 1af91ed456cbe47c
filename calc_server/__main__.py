"""``calc-server`` / ``python -m calc_server``: run the server until SIGINT, SIGTERM or SIGHUP."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shlex
import signal
import ssl
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from calc_local.tokenfile import token_published
from calc_server.cluster.node import ClusterUnavailable
from calc_server.config import Settings, parse_settings
from calc_server.fdlimit import pending_bound, raise_to_hard_limit
from calc_server.history import HistoryFileRefused
from calc_server.jobs import JobConfigError
from calc_server.loop import loop_factory
from calc_server.runner import start_server
from calc_server.tokenfiles import listening_hosts
from calc_server.workers import run_workers

log = logging.getLogger("calc_server")

EX_USAGE = 64
"""Exit code when the configured job cannot be run (a missing executable): fix the command."""


def announce_token(paths: list[Path], token: str) -> None:
    """Say where the generated token was written; show the token on the terminal only, once.

    The log says where the file is but never the token, so logs can be shared.
    """
    log.info(
        "access token written to %s (mode 0600); local clients read it from there",
        ", ".join(map(str, paths)),
    )
    if sys.stderr.isatty():
        print(
            f"\n    To connect from elsewhere, use the token:\n\n        {token}\n",
            file=sys.stderr,
            flush=True,
        )


def watch_parent(fd: int, stop: asyncio.Event) -> None:
    """Set ``stop`` when the pipe ``fd`` reaches EOF: the ``--workers`` parent is gone."""
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            return  # the parent never writes; nothing to do
        loop.remove_reader(fd)
        os.close(fd)
        if not stop.is_set():
            log.warning("the --workers parent is gone: shutting down")
            stop.set()

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)


async def serve(settings: Settings, open_files: tuple[int, int] | None = None) -> None:
    """Serve until SIGINT, SIGTERM or SIGHUP, then shut down gracefully (a job is canceled).

    ``open_files`` is the soft limit before and after it was raised, for the log.

    SIGHUP is what closing the terminal sends: it must not kill the server abruptly.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    if settings.parent_fd is not None:
        try:
            watch_parent(settings.parent_fd, stop)
        except OSError as exc:
            log.error("--parent-fd %d: %s", settings.parent_fd, exc.strerror or exc)
            raise SystemExit(2) from None
    # a cluster's nodes must share one token, so none generates its own
    generated = settings.token is None and not settings.no_auth and settings.redis_url is None
    if generated:
        settings = replace(settings, token=secrets.token_urlsafe(32))
    try:
        server = await start_server(settings)
    except JobConfigError as exc:
        log.error("%s", exc)
        raise SystemExit(EX_USAGE) from None
    except ValueError as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    except ClusterUnavailable as exc:
        log.error("%s", exc)
        raise SystemExit(1) from None
    except HistoryFileRefused as exc:
        log.error("cannot use the run history file %s", exc)
        raise SystemExit(1) from None
    except (OSError, ssl.SSLError) as exc:
        log.error("cannot serve on %s:%d: %s", settings.host, settings.port, exc.strerror or exc)
        raise SystemExit(1) from None
    published = settings.token if generated else None
    hosts = listening_hosts(server.runner.addresses)  # gone once the server stops
    try:
        with token_published(server.port, published, hosts=hosts) as paths:
            if published is not None:
                announce_token(paths, published)
            if settings.no_auth:
                log.warning("authentication is off (--no-auth): anyone on this machine can connect")
            if open_files is not None:
                before, after = open_files
                raised = f" (raised from {before})" if after != before else ""
                log.info(
                    "open files limit %d%s; at most %d connections wait for their handshake",
                    after,
                    raised,
                    pending_bound(),
                )
            runs = (
                shlex.join(settings.job) if settings.job else f"stage {settings.stage_seconds:g}s"
            )
            log.info("listening on %s (%s)", server.url, runs)
            await stop.wait()
    except OSError as exc:
        log.error("cannot write the token file: %s", exc)
        raise SystemExit(1) from None
    finally:
        log.info("shutting down")
        await server.stop()
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the settings, serve, and exit 0 after a graceful shutdown."""
    settings = parse_settings(argv)
    before, after = raise_to_hard_limit()
    # A file size limit (ulimit -f) then fails the history's writes with EFBIG, which the
    # history survives like a full disk, instead of killing the server with SIGXFSZ.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.workers > 1:
        return run_workers(settings, sys.argv[1:] if argv is None else argv)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(serve(settings, open_files=(before, after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
