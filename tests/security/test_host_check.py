"""With --no-auth, only loopback Host names are answered, so DNS rebinding reads nothing."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import ServerFactory


async def status_for(port: int, path: str, host: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        async with asyncio.timeout(5):
            status_line = await reader.readline()
        return int(status_line.split()[1])
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/schema", "/ws"])
async def test_a_foreign_host_name_is_refused_without_a_token(
    server_factory: ServerFactory, path: str
) -> None:
    server = await server_factory(no_auth=True)
    assert await status_for(server.port, path, f"rebind.example:{server.port}") == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.0.0.2", "LOCALHOST"])
async def test_loopback_host_names_are_answered(server_factory: ServerFactory, host: str) -> None:
    server = await server_factory(no_auth=True)
    assert await status_for(server.port, "/metrics", f"{host}:{server.port}") == 200


async def test_with_a_token_the_host_is_not_checked(server_factory: ServerFactory) -> None:
    server = await server_factory(no_auth=False, token="t0ken")
    assert await status_for(server.port, "/healthz", "calc.example.com") == 200
