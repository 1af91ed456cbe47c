"""The benchmark-only control channel of a server process: one line in, one line out.

The orchestrator writes a command line on the server's stdin and reads one reply line from its
stdout. It lives beside the server in the same event loop, so a command such as ``BCAST`` runs
the server's own code synchronously and timestamps it on the shared monotonic clock.
"""

from __future__ import annotations

import asyncio
import resource
import sys
from collections.abc import Awaitable, Callable

Handler = Callable[[list[str]], Awaitable[str]]


NOFILE_WANTED = 65536
"""Open files the load generator needs: four servers' worth of 10,000 clients, and spare."""


def raise_nofile(wanted: int = NOFILE_WANTED) -> int:
    """Raise the limit on open files to ``wanted`` (past the hard limit only as root); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(wanted, soft), max(wanted, hard)))
    except (ValueError, PermissionError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def reply(line: str) -> None:
    """Write one reply line to the orchestrator."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def serve_control(handle: Handler) -> None:
    """Answer control lines until ``QUIT`` or end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        words = line.decode().split()
        if not words:
            continue
        if words[0] == "QUIT":
            return
        reply(await handle(words))
