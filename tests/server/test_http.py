"""HTTP serves health and schema only; state changes happen over WebSocket alone."""

from __future__ import annotations

import json

import aiohttp
import pytest

from calc_server.runner import RunningServer
from protocol import Phase, Start, State, Welcome
from protocol.schema import render
from tests.wsclient import RawClient


async def test_healthz_reports_status_epoch_clients_and_state(server: RunningServer) -> None:
    client = await RawClient.open(server.url)
    try:
        welcome = await client.expect(Welcome)
        await client.send(Start(request_id="go"))
        await client.expect(State, lambda s: s.state is Phase.STARTING)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{server.http_url}/healthz") as response,
        ):
            assert response.status == 200
            body = await response.json()
        assert body["status"] == "ok"
        assert body["epoch"] == welcome.epoch
        assert body["clients"] == 1
        assert body["state"] in ("STARTING", "IN_PROGRESS")
        assert isinstance(body["version"], str)
    finally:
        await client.close()


async def test_schema_endpoint_serves_the_protocol_schema(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.http_url}/schema") as response,
    ):
        assert response.status == 200
        assert json.loads(await response.text()) == json.loads(render())


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/start"), ("POST", "/ws"), ("PUT", "/healthz"), ("GET", "/state")],
)
async def test_no_http_state_management(server: RunningServer, method: str, path: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{server.http_url}{path}") as response,
    ):
        assert response.status in (404, 405)
