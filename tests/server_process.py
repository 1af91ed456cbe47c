"""The real ``calc-server`` console script as a subprocess: started until it listens, or run
until it refuses to start."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path

CALC_SERVER = str(Path(sys.executable).with_name("calc-server"))
"""The console script installed next to this interpreter."""


async def spawn(
    env: dict[str, str], *args: str, preexec_fn: Callable[[], None] | None = None
) -> asyncio.subprocess.Process:
    """``calc-server --port 0 ARGS`` (a later ``--port`` wins) with its log on a pipe."""
    return await asyncio.create_subprocess_exec(
        CALC_SERVER,
        "--port",
        "0",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=preexec_fn,
    )


async def start_listening(
    env: dict[str, str], *args: str, preexec_fn: Callable[[], None] | None = None
) -> tuple[asyncio.subprocess.Process, int, str]:
    """Start calc-server; return it, its port and its log up to the listening line."""
    proc = await spawn(env, *args, preexec_fn=preexec_fn)
    assert proc.stderr is not None
    head = ""
    async with asyncio.timeout(60):  # a busy machine starts Python slowly
        while line := (await proc.stderr.readline()).decode():
            head += line
            if found := re.search(r"listening on wss?://\S+:(\d+)/ws", line):
                return proc, int(found.group(1)), head
    raise AssertionError(f"calc-server did not start:\n{head}")


async def refused(env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    """Run a calc-server that should not start; its exit code and its log lines."""
    proc = await spawn(env, *args)
    async with asyncio.timeout(60):
        _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode().splitlines()
