"""The floor: the same frame bytes sent with ``socket.send`` to N plain TCP sockets.

No WebSocket handshake and no framing work at all: the cheapest a Python send loop can be, so
our server's send cost is judged against it. Control line: ``BCAST`` ->
``SENT seq t0 call fanout cpu switches began`` (``bench.looptimer``).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

from bench.control import raise_nofile, reply, serve_control
from bench.looptimer import LoopTimer
from bench.wire import sample_payload
from calc_server.frames import text_frame
from calc_server.loop import loop_factory

ACCEPTS_PER_WAKEUP = 256


async def main(port: int) -> None:
    """Accept plain TCP peers and answer control lines until ``QUIT``."""
    raise_nofile()
    loop = asyncio.get_running_loop()
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    listener.setblocking(False)
    peers: list[socket.socket] = []

    def accept() -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                sock, _addr = listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peers.append(sock)

    loop.add_reader(listener.fileno(), accept)
    seq = 0

    async def handle(words: list[str]) -> str:
        nonlocal seq
        if words[0] != "BCAST":
            return f"ERR unknown command {words[0]}"
        t0 = time.monotonic_ns()
        seq += 1
        frame = text_frame(sample_payload(seq))
        timer = LoopTimer()
        timer.start()
        for sock in peers:
            try:  # noqa: SIM105 - try is free in 3.11; a with-block per peer is not
                sock.send(frame)
            except (BlockingIOError, ConnectionError):
                pass  # a full or broken peer is skipped, as our hub skips it
        timer.stop()
        return f"SENT {seq} {t0} {time.monotonic_ns() - t0} {timer.words()}"

    reply(f"READY {listener.getsockname()[1]}")
    try:
        await serve_control(handle)
    finally:
        loop.remove_reader(listener.fileno())
        for sock in peers:
            sock.close()
        listener.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main(args.port))
