"""Token guessing is slowed per source, a refusal closes its connection, the log summarises."""

from __future__ import annotations

import asyncio
import itertools
import logging

import aiohttp
import pytest

from calc_server.auth_limits import FIRST_DELAY, source_of
from tests.conftest import ServerFactory

TOKEN = "guess-limit-test-token"


def handshake(port: int, token: str) -> bytes:
    return (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


async def status(port: int, token: str) -> int:
    """One handshake on a new connection; its HTTP status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(handshake(port, token))
        async with asyncio.timeout(30):
            line = await reader.readline()
        return int(line.split()[1])
    finally:
        writer.close()


async def test_a_refused_handshake_closes_its_connection(server_factory: ServerFactory) -> None:
    server = await server_factory(no_auth=False, token=TOKEN)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(handshake(server.port, "wrong") * 2)  # a second guess, kept alive
        async with asyncio.timeout(10):
            answer = await reader.read()  # until the server closes
    finally:
        writer.close()
    assert answer.count(b"HTTP/1.1 401") == 1
    assert b"Connection: close" in answer


async def test_wrong_tokens_from_one_source_wait_longer_and_longer(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(no_auth=False, token=TOKEN)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(6):
        assert await status(server.port, "wrong") == 401
    # five waits after the first failure: 1 + 2 + 4 + 8 + 16 times the first delay at least
    assert loop.time() - started >= 31 * FIRST_DELAY
    # the right token still gets in after its turn, and resets the source
    assert await status(server.port, TOKEN) == 101
    quick = loop.time()
    assert await status(server.port, "wrong") == 401
    assert loop.time() - quick < 31 * FIRST_DELAY


async def test_a_flood_of_guesses_is_refused_unchecked_and_logged_in_summary(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calc_server")
    server = await server_factory(no_auth=False, token=TOKEN, refusal_log_interval=0.5)
    assert await status(server.port, "wrong") == 401  # now the source has to wait
    statuses = await asyncio.gather(*(status(server.port, "wrong") for _ in range(100)))
    assert statuses.count(429) >= 90  # only a few may wait for their turn
    assert set(statuses) <= {401, 429}
    await server.stop()  # writes the last summary
    records = [r for r in caplog.records if r.name == "calc_server.gate"]
    lines = [r.getMessage() for r in records]
    assert len(lines) < 20  # not one per refusal
    assert sum(int(line.split()[1]) for line in lines) == 101
    assert all("from 127.0.0.1" in line for line in lines)
    during = [r.created for r in records[:-1]]  # the last one is the shutdown's flush
    assert all(b - a >= 0.5 - 0.01 for a, b in itertools.pairwise(during))


async def test_requests_without_a_token_are_not_slowed(server_factory: ServerFactory) -> None:
    server = await server_factory(no_auth=False, token=TOKEN)
    async with aiohttp.ClientSession() as http:
        for _ in range(20):
            async with http.get(server.http_url + "/metrics") as response:
                assert response.status == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get(server.http_url + "/metrics", headers=headers) as response:
            assert response.status == 200


@pytest.mark.parametrize(
    ("remote", "source"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1", "2001:db8::/64"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
    ],
)
def test_ipv6_sources_are_limited_by_their_64(remote: str, source: str) -> None:
    assert source_of(remote) == source
