"""What a user would write instead: a minimal python-websockets server using ``broadcast()``.

Library defaults throughout (the load generator offers no compression, so none is used); the
message is encoded once and handed to ``broadcast(..., text=True)``. Runs on uvloop like ours,
so the comparison is of the libraries, not of the event loops.
Control line: ``BCAST`` -> ``SENT seq t0 call fanout cpu switches began``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.control import raise_nofile, reply, serve_control
from bench.looptimer import LoopTimer
from bench.wire import sample_payload
from calc_server.loop import loop_factory


async def main(port: int) -> None:
    """Serve and answer control lines until ``QUIT``."""
    raise_nofile()
    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    seq = 0

    async def handle(words: list[str]) -> str:
        nonlocal seq
        if words[0] != "BCAST":
            return f"ERR unknown command {words[0]}"
        t0 = time.monotonic_ns()
        seq += 1
        payload = sample_payload(seq)
        timer = LoopTimer()
        timer.start()
        broadcast(clients, payload, text=True)
        timer.stop()
        return f"SENT {seq} {t0} {time.monotonic_ns() - t0} {timer.words()}"

    async with serve(handler, "127.0.0.1", port) as server:
        reply(f"READY {server.sockets[0].getsockname()[1]}")
        await serve_control(handle)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main(args.port))
