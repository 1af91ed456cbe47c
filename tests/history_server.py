"""A stand-in server whose run history the test writes: any runs, any text, any answer.

Real WebSocket, real frames: it greets like calc-server (announcing ``history``, or not),
then answers every ``history`` request from its list of runs, paging by ``before`` as the
protocol says, or with the error the test chose. What a hostile or broken server could send.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.wsserver import serving

STATE = {
    "type": "state",
    "seq": 0,
    "epoch": "e1",
    "calculation_id": None,
    "state": "IDLE",
    "stage": 0,
    "stages": 3,
    "stage_elapsed": 0.0,
    "stage_duration": 2.0,
}


def run(cid: str, started_at: float = 1_700_000_000.0, **fields: Any) -> dict[str, Any]:
    """A run as the protocol carries it: ended SUCCESS six seconds after it started."""
    return {
        "calculation_id": cid,
        "started_by": "alice (c1)",
        "started_at": started_at,
        "ended_at": started_at + 6.0,
        "outcome": "SUCCESS",
        "ended_by": None,
        "stage_seconds": [2.0, 2.0, 2.0],
        **fields,
    }


@dataclass
class HistoryServer:
    """What the stand-in knows: runs newest first, and how it answers."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    features: list[str] = field(default_factory=lambda: ["history"])
    error: str | None = None
    """An error code to answer every ``history`` with, instead of runs."""
    last_run: dict[str, Any] | None = None
    queries: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, query: dict[str, Any]) -> dict[str, Any]:
        """The answer to one ``history`` request."""
        rid = query.get("request_id")
        if self.error is not None:
            return {"type": "error", "code": self.error, "message": "not now", "request_id": rid}
        if query.get("calculation_id") is not None:
            one = [r for r in self.runs if r["calculation_id"] == query["calculation_id"]]
            return {"type": "history", "request_id": rid, "runs": one, "more": False}
        runs = self.runs
        if query.get("before") is not None:
            ids = [r["calculation_id"] for r in runs]
            runs = runs[ids.index(query["before"]) + 1 :] if query["before"] in ids else []
        limit = query.get("limit", 20)
        return {
            "type": "history",
            "request_id": rid,
            "runs": runs[:limit],
            "more": len(runs) > limit,
        }

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        welcome: dict[str, Any] = {
            "type": "welcome",
            "protocol": 1,
            "server": "9.0.0",
            "epoch": "e1",
            "client_id": "c1",
            "clients": 1,
            "features": self.features,
        }
        if self.last_run is not None:
            welcome["last_run"] = self.last_run
        await ws.send_str(json.dumps(welcome))
        await ws.send_str(json.dumps(STATE))
        async for msg in ws:
            query = json.loads(msg.data)
            if query.get("type") == "history":
                self.queries.append(query)
                await ws.send_str(json.dumps(self.answer(query)))
        return ws

    def serve(self) -> AbstractAsyncContextManager[str]:
        """Serve on a free loopback port; yields its ws:// URL."""
        return serving(self._handler)
