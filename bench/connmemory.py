"""``python -m bench.connmemory [N]``: where a server's memory per idle connection goes.

Starts a calc server in this process under ``tracemalloc``, connects N idle WebSocket clients
from a child process, and prints the bytes per connection by the line that allocated them.
The total is Python's allocations only (no kernel socket buffers), so it is a little below the
RSS figure of ``bench.memory``; its use is to say which objects a connection costs.
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc

CLIENTS = """
import asyncio, sys, aiohttp
async def main(port, n):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = []
        for i in range(0, n, 100):
            batch = min(100, n - i)
            url = f"http://127.0.0.1:{port}/ws"
            sockets += await asyncio.gather(*(session.ws_connect(url) for _ in range(batch)))
        print("ready", flush=True)
        await asyncio.sleep(3600)
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


async def measure(clients: int, top: int = 25) -> list[str]:
    """The report lines: the total, then the ``top`` allocating lines, per connection."""
    from calc_server.config import Settings
    from calc_server.runner import start_server

    server = await start_server(Settings(port=0, no_auth=True, heartbeat=3600.0))
    before = tracemalloc.take_snapshot()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENTS, str(server.port), str(clients),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        async with asyncio.timeout(120):
            await child.stdout.readline()  # "ready": every client is connected
        await asyncio.sleep(1.0)  # the last greetings written
        after = tracemalloc.take_snapshot()
    finally:
        child.kill()
        await child.wait()
        await server.stop()
    stats = after.compare_to(before, "lineno")
    lines = [f"{sum(s.size_diff for s in stats) / clients:,.0f} B per connection in all"]
    for stat in stats[:top]:
        frame = stat.traceback[0]
        where = frame.filename.split("site-packages/")[-1]
        lines.append(
            f"{stat.size_diff / clients:8,.0f} B {stat.count_diff / clients:6.2f} objects"
            f"  {where}:{frame.lineno}"
        )
    return lines


def main() -> None:
    """Measure with N clients (default 1,000) and print the lines."""
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    tracemalloc.start(1)
    print("\n".join(asyncio.run(measure(clients))))


if __name__ == "__main__":
    main()
