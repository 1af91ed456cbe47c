"""Connection churn does not grow the server's memory: garbage is never frozen for good.

The hub freezes long-lived objects out of the GC's way after a burst of connects; once the
peers left, their objects must be collected, not kept frozen by the next burst's freeze.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

from tests.client.calc_process import clean_env

CALC_SERVER = str(Path(sys.executable).with_name("calc-server"))
CONNECTIONS = 1000
CYCLES = 5
HOLD = 1.5
"""Seconds each wave stays: longer than the hub's one-second quiet before it freezes."""


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def wave(port: int) -> None:
    """Open CONNECTIONS WebSockets, hold them HOLD seconds, close them all."""
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    gate = asyncio.Semaphore(100)

    async def one() -> asyncio.StreamWriter:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await reader.readuntil(b"\r\n\r\n")
            return writer

    writers = await asyncio.gather(*(one() for _ in range(CONNECTIONS)))
    await asyncio.sleep(HOLD)
    for writer in writers:
        writer.close()


async def settled_rss(pid: int, at_most: float | None, timeout: float = 15.0) -> float:
    """RSS once the server has let go of the departed peers (it unfreezes a second after).

    With ``at_most``, wait (up to ``timeout``) for the RSS to fall to it; return the lowest seen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (timeout if at_most is not None else 2.5)
    lowest = resident_mib(pid)
    while loop.time() < deadline:
        await asyncio.sleep(0.25)
        lowest = min(lowest, resident_mib(pid))
        if at_most is not None and lowest <= at_most:
            break
    return lowest


async def listening(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on ``port``."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


async def test_memory_after_churn_stays_within_half_again_of_the_first_wave() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        CALC_SERVER,
        "--port",
        str(port),
        "--no-auth",
        "--log-level",
        "WARNING",
        env=clean_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await listening(port)
        await wave(port)
        first = await settled_rss(proc.pid, None)
        for _ in range(CYCLES - 1):
            await wave(port)
        last = await settled_rss(proc.pid, at_most=1.5 * first)
        assert last <= 1.5 * first, f"{first:.0f} MiB after the first wave, {last:.0f} after"
    finally:
        proc.terminate()
        await proc.wait()
