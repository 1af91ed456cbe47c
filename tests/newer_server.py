"""A real WebSocket server that speaks a later protocol 1: new message types, new fields.

It greets like calc-server, then sends a message type and fields this client has never heard
of, then a ``state``; our clients must read past what they do not know.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from tests.wsserver import serving

WELCOME = {
    "type": "welcome",
    "protocol": 1,
    "server": "9.0.0",
    "epoch": "later-epoch",
    "client_id": "c1",
    "clients": 1,
    "features": ["jobs", "history"],
    "motd": "a field from the future",
}
UNKNOWN = {"type": "job_output", "job": "j1", "lines": ["hello"], "nested": {"a": [1, 2]}}
STATE = {
    "type": "state",
    "seq": 0,
    "epoch": "later-epoch",
    "calculation_id": None,
    "state": "IDLE",
    "stage": 0,
    "stages": 3,
    "stage_elapsed": 0.0,
    "stage_duration": 2.0,
    "started_by": None,
    "ended_by": None,
    "queue": [],
}


async def _handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    for message in (WELCOME, UNKNOWN, STATE):
        await ws.send_str(json.dumps(message))
    async for _ in ws:  # read until the client leaves
        pass
    return ws


@asynccontextmanager
async def newer_server() -> AsyncIterator[str]:
    """Serve on a free loopback port; yield its ws:// URL."""
    async with serving(_handler) as url:
        yield url
