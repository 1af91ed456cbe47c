"""HTTP serves health and schema only; state changes happen over WebSocket alone."""

from __future__ import annotations

import json

import aiohttp
import pytest

from calc_server.runner import RunningServer
from protocol import Error, Phase, Start, State, Welcome
from protocol.schema import render
from tests.conftest import LONG_STAGE, ServerFactory
from tests.wsclient import RawClient


async def test_healthz_reports_status_epoch_clients_and_state(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(stage_seconds=LONG_STAGE)
    client = await RawClient.open(server.url)
    try:
        welcome = await client.expect(Welcome, since=0)
        sent = await client.send(Start(request_id="go"))
        await client.expect(State, lambda s: s.state is Phase.STARTING, since=sent)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{server.http_url}/healthz") as response,
        ):
            assert response.status == 200
            body = await response.json()
        assert body["status"] == "ok"
        assert body["epoch"] == welcome.epoch
        assert body["clients"] == 1
        assert body["state"] == "STARTING"
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


async def test_metrics_count_changes_encodes_and_clients(server: RunningServer) -> None:
    client = await RawClient.open(server.url)
    try:
        sent = await client.send(Start(request_id="go"))
        await client.expect(State, lambda s: s.state is Phase.SUCCESS, since=sent)
        sent = await client.send(b"junk")
        await client.expect(Error, since=sent)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{server.http_url}/metrics") as response,
        ):
            assert response.status == 200
            text = await response.text()
    finally:
        await client.close()
    values = dict(line.split() for line in text.splitlines() if not line.startswith("#"))
    assert values["calc_state_changes_total"] == "4"
    assert values["calc_encodes_total"] == "4"
    assert values["calc_clients"] == "1"
    assert values["calc_bad_messages_total"] == "1"
    assert values["calc_seq"] == "4"


async def test_metrics_need_the_token(server_factory: ServerFactory) -> None:
    server = await server_factory(no_auth=False, token="t0ken")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.http_url}/metrics") as anonymous:
            assert anonymous.status == 401
        headers = {"Authorization": "Bearer t0ken"}
        async with http.get(f"{server.http_url}/metrics", headers=headers) as holder:
            assert holder.status == 200
