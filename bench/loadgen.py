"""The load generator: N clients on 127.0.0.1 that timestamp every message they receive.

Runs in its own process (pinned by the orchestrator to the other core) and takes one control
line at a time on stdin:
``CONNECT tag url n inflight ws|tcp``  open n clients of the server called ``tag``, at most
                                       ``inflight`` opening at once:
                                       ``CONNECTED ok failed elapsed_ns``
``WAIT tag seq n timeout``             until n clients of ``tag`` have the message with that
                                       seq: ``GOT seq count first_ns last_ns`` (monotonic_ns)
``CLOSE``                              close every client: ``CLOSED``
WebSocket clients are picows (a Cython receiver) when it is installed, else aiohttp; ``tcp``
clients read the same frames from plain TCP for the raw-socket floor. Every receiver does the
same work per message: take ``time.monotonic_ns()``, find the seq, update one record.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.control import raise_nofile, reply, serve_control
from bench.wire import seq_of
from calc_server.loop import loop_factory

try:
    import picows
except ImportError:  # pragma: no cover - the aiohttp fallback
    picows = None

RECEIVER = "picows" if picows is not None else "aiohttp"
CONNECT_ERRORS: tuple[type[Exception], ...] = (OSError, TimeoutError, ValueError)
if picows is not None:
    CONNECT_ERRORS += (picows.WSError,)
CONNECT_TIMEOUT = 30.0


class Recorder:
    """Per seq: how many clients have it, and the first and last receive time."""

    def __init__(self) -> None:
        self.stats: dict[int, list[int]] = {}
        self.want_seq = -1
        self.want_n = 0
        self.done: asyncio.Future[None] | None = None

    def record(self, t: int, payload: bytes) -> None:
        """Count one received message at monotonic time ``t``."""
        seq = seq_of(payload)
        rec = self.stats.get(seq)
        if rec is None:
            rec = self.stats[seq] = [0, t, t]
        rec[0] += 1
        if t > rec[2]:
            rec[2] = t
        if seq == self.want_seq and rec[0] >= self.want_n and self.done and not self.done.done():
            self.done.set_result(None)

    async def wait(self, seq: int, n: int, timeout: float) -> list[int]:
        """Wait until ``n`` clients have ``seq`` (or ``timeout``); its record."""
        rec = self.stats.get(seq)
        if rec is None or rec[0] < n:
            self.want_seq, self.want_n = seq, n
            self.done = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.done
            self.want_seq, self.done = -1, None
        return self.stats.get(seq, [0, 0, 0])


class TcpReceiver(asyncio.Protocol):
    """Reads unmasked WebSocket frames off a plain TCP stream (the floor's peers)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        t = time.monotonic_ns()
        buf = self.buffer + data if self.buffer else data
        i, end = 0, len(buf)
        while end - i >= 2:
            n, head = buf[i + 1] & 0x7F, 2
            if n == 126:
                if end - i < 4:
                    break
                n, head = int.from_bytes(buf[i + 2 : i + 4], "big"), 4
            elif n == 127:
                if end - i < 10:
                    break
                n, head = int.from_bytes(buf[i + 2 : i + 10], "big"), 10
            if end - i < head + n:
                break
            self.recorder.record(t, buf[i + head : i + head + n])
            i += head + n
        self.buffer = buf[i:]


def _picows_listener(recorder: Recorder) -> Callable[[], Any]:
    assert picows is not None

    class Listener(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            t = time.monotonic_ns()
            if frame.msg_type is picows.WSMsgType.CLOSE:
                transport.disconnect()
            elif frame.msg_type in (picows.WSMsgType.TEXT, picows.WSMsgType.BINARY):
                recorder.record(t, frame.get_payload_as_bytes())

    return Listener


class Clients:
    """The open clients and how to open and close them."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.closers: list[Callable[[], object]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.session: Any = None

    async def open_one(self, url: str, mode: str) -> None:
        """Open one client; raise on failure."""
        loop = asyncio.get_running_loop()
        if mode == "tcp":
            host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            transport, _ = await loop.create_connection(
                lambda: TcpReceiver(self.recorder), host, int(port)
            )
            self.closers.append(transport.close)
        elif picows is not None:
            transport, _ = await picows.ws_connect(
                _picows_listener(self.recorder), url, websocket_handshake_timeout=CONNECT_TIMEOUT
            )
            self.closers.append(transport.disconnect)
        else:
            await self._open_aiohttp(url)

    async def _open_aiohttp(self, url: str) -> None:
        import aiohttp

        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True)
            )
        ws = await self.session.ws_connect(url, compress=0, autoping=True)
        recorder = self.recorder

        async def read() -> None:
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                    recorder.record(time.monotonic_ns(), data)

        self.tasks.append(asyncio.create_task(read()))
        self.closers.append(ws.close)

    async def connect(self, url: str, n: int, inflight: int, mode: str) -> tuple[int, int, int]:
        """Open ``n`` clients, ``inflight`` at a time: (opened, failed, elapsed_ns)."""
        gate = asyncio.Semaphore(inflight)
        failed = 0

        async def one() -> None:
            nonlocal failed
            async with gate:
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        await self.open_one(url, mode)
                except CONNECT_ERRORS as exc:
                    failed += 1
                    if failed <= 3:
                        print(f"loadgen: connect failed: {exc!r}", file=sys.stderr)

        t0 = time.monotonic_ns()
        await asyncio.gather(*(one() for _ in range(n)))
        return n - failed, failed, time.monotonic_ns() - t0

    async def close(self) -> None:
        """Close every client."""
        for close in self.closers:
            result = close()
            if asyncio.iscoroutine(result):
                with contextlib.suppress(Exception):
                    await result
        self.closers.clear()
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        if self.session is not None:
            await self.session.close()
            self.session = None


async def main() -> None:
    """Answer control lines until ``QUIT``."""
    raise_nofile()
    servers: dict[str, Clients] = {}

    async def handle(words: list[str]) -> str:
        match words:
            case ["CONNECT", tag, url, n, inflight, mode]:
                clients = servers.setdefault(tag, Clients(Recorder()))
                ok, failed, elapsed = await clients.connect(url, int(n), int(inflight), mode)
                return f"CONNECTED {ok} {failed} {elapsed}"
            case ["WAIT", tag, seq, n, timeout]:
                recorder = servers[tag].recorder
                count, first, last = await recorder.wait(int(seq), int(n), float(timeout))
                return f"GOT {seq} {count} {first} {last}"
            case ["CLOSE"]:
                for clients in servers.values():
                    await clients.close()
                servers.clear()
                return "CLOSED"
        return f"ERR unknown command {words[0]}"

    reply(f"READY {RECEIVER}")
    try:
        await serve_control(handle)
    finally:
        for clients in servers.values():
            await clients.close()


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
