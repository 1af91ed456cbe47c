"""The naive aiohttp server: stdlib ``json`` per client and ``await ws.send_json`` in a loop.

aiohttp defaults (the load generator offers no compression, so none is used), on uvloop like
ours. Control line: ``BCAST`` -> ``SENT seq t0 call fanout cpu switches began``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import msgspec
from aiohttp import web

from bench.control import raise_nofile, reply, serve_control
from bench.looptimer import LoopTimer
from bench.wire import sample_state
from calc_server.loop import loop_factory

CLIENTS = web.AppKey("clients", set[web.WebSocketResponse])


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Keep the socket in the set until it closes."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        clients.discard(ws)
    return ws


async def main(port: int) -> None:
    """Serve and answer control lines until ``QUIT``."""
    raise_nofile()
    app = web.Application()
    app[CLIENTS] = clients = set()
    app.router.add_get("/ws", websocket)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    seq = 0

    async def handle(words: list[str]) -> str:
        nonlocal seq
        if words[0] != "BCAST":
            return f"ERR unknown command {words[0]}"
        t0 = time.monotonic_ns()
        seq += 1
        state = msgspec.to_builtins(sample_state(seq))
        timer = LoopTimer()
        timer.start()
        for ws in list(clients):
            await ws.send_json(state)
        timer.stop()
        return f"SENT {seq} {t0} {time.monotonic_ns() - t0} {timer.words()}"

    reply(f"READY {runner.addresses[0][1]}")
    try:
        await serve_control(handle)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main(args.port))
