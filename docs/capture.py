"""Capture the message sequences of docs/protocol.md from a real server.

``python docs/capture.py`` (from the repository, with the project installed) starts real
servers on 127.0.0.1 (the built-in timer with 0.5 s stages, and real jobs), drives real
WebSocket clients through each scenario the document shows, and prints every frame as
``TIME CLIENT ARROW FRAME``: ``A ->`` is a frame client A sent, ``A <-`` one it received, times
in seconds from the start of the scenario. A frame another client received at the same moment
is shortened to its type and seq with ``…same…``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import aiohttp

from calc_server.config import Settings
from calc_server.runner import RunningServer, start_server

TIMER = Settings(host="127.0.0.1", port=0, stage_seconds=0.5, no_auth=True, heartbeat=30.0)
SAME_WITHIN = 0.005
"""A frame another client got this close in time is shown as ``…same…``."""

FAILING_JOB = (
    "import json, sys, time\n"
    "print('loading data')\n"
    "for epoch in range(1, 4):\n"
    "    time.sleep(0.3)\n"
    "    print(json.dumps({'calc': {'progress': epoch / 4, 'message': f'epoch {epoch}/4'}}))\n"
    "print('Traceback (most recent call last):', file=sys.stderr)\n"
    "print('ValueError: loss is NaN', file=sys.stderr)\n"
    "time.sleep(0.2)\n"
    "sys.exit(3)\n"
)
STUBBORN_JOB = "trap '' TERM; echo started; while :; do sleep 0.05; done"


@dataclass
class Capture:
    """The frames of one scenario, in the order they were sent or received."""

    t0: float = field(default_factory=time.monotonic)
    lines: list[tuple[float, str, str, str]] = field(default_factory=list)

    def note(self, who: str, arrow: str, text: str) -> None:
        """Keep one frame with its time."""
        self.lines.append((time.monotonic() - self.t0, who, arrow, text))

    def render(self) -> str:
        """The frames as the document shows them."""
        out: list[str] = []
        shown: list[tuple[float, str]] = []
        for at, who, arrow, text in self.lines:
            if arrow == "<-" and any(abs(at - t) <= SAME_WITHIN and text == s for t, s in shown):
                out.append(f"{at:.3f} {who} <- {_same(text)}")
                continue
            shown.append((at, text))
            out.append(f"{at:.3f} {who} {arrow} {text}")
        return "\n".join(out)


def _same(text: str) -> str:
    message = json.loads(text)
    if "seq" in message and message["type"] == "state":
        return f'{{"type":"{message["type"]}","seq":{message["seq"]}, …same…}}'
    return f'{{"type":"{message["type"]}", …same…}}'


class Client:
    """One WebSocket client whose frames go to the capture."""

    def __init__(self, name: str, capture: Capture) -> None:
        self.name = name
        self.capture = capture
        self.received: list[dict[str, object]] = []
        self._arrived = asyncio.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False

    async def connect(self, url: str) -> None:
        """Open the connection and start reading."""
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(url)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.capture.note(self.name, "<-", message.data)
                async with self._arrived:
                    self.received.append(json.loads(message.data))
                    self._arrived.notify_all()
        if not self._closing:
            self.capture.note(self.name, "  ", f"closed by the server: {self._ws.close_code}")

    async def send(self, message: dict[str, object]) -> None:
        """Send one frame (compact JSON, as our clients do)."""
        assert self._ws is not None
        text = json.dumps(message, separators=(",", ":"))
        self.capture.note(self.name, "->", text)
        await self._ws.send_str(text)

    async def ask(self, message: dict[str, object]) -> dict[str, object]:
        """Send a request and wait for the ``ack`` (or answer) with its ``request_id``."""
        await self.send(message)
        return await self.expect(lambda m: m.get("request_id") == message["request_id"])

    async def expect(self, where: Callable[[dict[str, object]], bool]) -> dict[str, object]:
        """Wait for a received message matching ``where`` (any received so far counts)."""
        async with asyncio.timeout(30), self._arrived:
            while True:
                for message in self.received:
                    if where(message):
                        return message
                await self._arrived.wait()

    async def close(self) -> None:
        """Close the connection and stop reading."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
        if self._session is not None:
            await self._session.close()


async def watching(name: str, capture: Capture, url: str) -> Client:
    """Client ``name``, connected and holding its first state."""
    client = Client(name, capture)
    await client.connect(url)
    await client.expect(kind("state"))
    return client


def state(phase: str, **fields: object) -> Callable[[dict[str, object]], bool]:
    """A matcher for a state message in ``phase`` (and with ``fields``)."""
    return lambda m: (
        m["type"] == "state"
        and m["state"] == phase
        and all(m.get(k) == v for k, v in fields.items())
    )


def kind(name: str, **fields: object) -> Callable[[dict[str, object]], bool]:
    """A matcher for a message of type ``name`` (and with ``fields``)."""
    return lambda m: m["type"] == name and all(m.get(k) == v for k, v in fields.items())


async def full_run(server: RunningServer, capture: Capture) -> None:
    """B watches; A connects, names itself, runs to SUCCESS, repeats its start, leaves."""
    b = await watching("B", capture, server.url)
    a = Client("A", capture)
    await a.connect(server.url)
    await a.send({"type": "hello", "protocol": 1, "client": "alice"})
    await a.expect(kind("presence", clients=2))
    await a.send({"type": "start", "request_id": "r1"})
    await a.expect(state("SUCCESS"))
    await a.send({"type": "start", "request_id": "r1"})
    await a.expect(lambda m: m["type"] == "ack" and m["seq"] == 1 and len(a.received) > 8)
    await a.close()
    capture.note("A", "  ", "(A closes)")
    await b.expect(lambda m: m["type"] == "presence" and m["clients"] == 1)
    await b.close()


async def canceled_run(server: RunningServer, capture: Capture) -> None:
    """A starts, syncs mid-stage, cancels a wrong id, cancels, cancels again."""
    a = await watching("A", capture, server.url)
    await a.send({"type": "start", "request_id": "s1"})
    running = await a.expect(state("IN_PROGRESS"))
    await asyncio.sleep(0.2)
    await a.ask({"type": "sync", "request_id": "y1"})
    await a.ask({"type": "cancel", "request_id": "c0", "calculation_id": "not-this-one"})
    cid = running["calculation_id"]
    await a.ask({"type": "cancel", "request_id": "c1", "calculation_id": cid})
    await a.ask({"type": "cancel", "request_id": "c2"})
    await a.close()


async def rejected_start(server: RunningServer, capture: Capture) -> None:
    """A starts; B, a moment later, is refused; the run goes on for both."""
    a = await watching("A", capture, server.url)
    b = Client("B", capture)
    await b.connect(server.url)
    await b.send({"type": "hello", "protocol": 1, "client": "bob"})
    await b.expect(kind("presence", clients=2))
    await a.ask({"type": "start", "request_id": "a1"})
    await b.ask({"type": "start", "request_id": "b1"})
    await asyncio.gather(a.expect(state("SUCCESS")), b.expect(state("SUCCESS")))
    await a.close()
    await b.close()


async def shutdown_during_a_run(server: RunningServer, capture: Capture) -> None:
    """A starts a run; the server stops (what SIGINT or SIGTERM does) a second later."""
    a = await watching("A", capture, server.url)
    await a.ask({"type": "start", "request_id": "s1"})
    await asyncio.sleep(1.0)
    await server.stop()
    await a.close()


async def failing_job(server: RunningServer, capture: Capture) -> None:
    """A (alice) starts a job that fails; B asks for logs before any line is printed."""
    a = await watching("A", capture, server.url)
    b = await watching("B", capture, server.url)
    await a.send({"type": "hello", "protocol": 1, "client": "alice"})
    await a.expect(kind("presence", clients=2))
    await a.send({"type": "start", "request_id": "r1"})
    started = await b.expect(state("STARTING"))
    await b.send(
        {
            "type": "logs",
            "request_id": "l1",
            "calculation_id": started["calculation_id"],
            "since": 0,
            "limit": 2,
        }
    )
    await b.expect(kind("output", request_id="l1"))
    await asyncio.gather(a.expect(state("FAILED")), b.expect(state("FAILED")))
    await a.close()
    await b.close()


async def canceled_job(server: RunningServer, capture: Capture) -> None:
    """A job that ignores SIGTERM is canceled: canceling for the grace, then CANCELED."""
    a = await watching("A", capture, server.url)
    await a.send({"type": "start", "request_id": "s1"})
    await a.expect(kind("output"))
    await a.ask({"type": "cancel", "request_id": "c1"})
    await a.ask({"type": "start", "request_id": "s2"})
    await a.expect(state("CANCELED"))
    await a.close()


Scenario = Callable[[RunningServer, Capture], Awaitable[None]]


async def main() -> None:
    """Run every scenario against a fresh server and print its frames."""
    python = sys.executable
    scenarios: list[tuple[str, Settings, list[Scenario]]] = [
        ("timer, 0.5 s stages", TIMER, [full_run, canceled_run, rejected_start]),
        ("timer, 5 s stages", replace(TIMER, stage_seconds=5.0), [shutdown_during_a_run]),
        (
            "--job (a failing Python script)",
            replace(TIMER, job=(python, "-c", FAILING_JOB)),
            [failing_job],
        ),
        (
            "--job 'sh -c \"trap '' TERM; …\"' --job-grace 1",
            replace(TIMER, job=("sh", "-c", STUBBORN_JOB), job_grace=1.0),
            [canceled_job],
        ),
    ]
    for title, settings, runs in scenarios:
        server = await start_server(settings)
        try:
            for scenario in runs:
                capture = Capture()
                await scenario(server, capture)
                print(f"### {scenario.__name__} ({title})\n\n```\n{capture.render()}\n```\n")
        finally:
            await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
