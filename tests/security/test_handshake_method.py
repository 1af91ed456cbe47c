"""Only ``GET /ws`` upgrades: ``HEAD /ws`` with a valid token neither upgrades nor counts."""

from __future__ import annotations

import aiohttp

from calc_server.keys import HUB
from tests.conftest import ServerFactory

TOKEN = "head-test-token"
UPGRADE = {
    "Authorization": f"Bearer {TOKEN}",
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}


async def test_head_with_a_token_is_not_upgraded(server_factory: ServerFactory) -> None:
    server = await server_factory(no_auth=False, token=TOKEN)
    async with (
        aiohttp.ClientSession() as http,
        http.head(server.http_url + "/ws", headers=UPGRADE) as response,
    ):
        assert response.status == 405
        assert response.headers["Allow"] == "GET"
    assert len(server.app[HUB]) == 0
    assert server.app[HUB].metrics.connections == 0
