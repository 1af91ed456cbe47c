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


def raise_nofile() -> int:
    """Raise the soft limit on open files to the hard one; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


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
