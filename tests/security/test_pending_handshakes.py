"""Connections that never finish their handshake: closed after 10 s (TLS too), and bounded in
number below the open-file limit, so idle sockets cannot lock real clients out."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import pytest
import trustme

from calc_server.runner import RunningServer
from tests.client.calc_process import run_calc
from tests.conftest import ServerFactory
from tests.processes import Auth, ServerProcess, clean_env


async def seconds_until_closed(port: int, send: bytes = b"", bound: float = 30.0) -> float:
    """Open a connection, send ``send`` (maybe nothing), and time how long the server keeps it."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened = loop.time()
    try:
        writer.write(send)
        async with asyncio.timeout(bound):
            while await reader.read(4096):
                pass
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return loop.time() - opened


@pytest.fixture
async def tls_server(server_factory: ServerFactory, tmp_path: Path) -> RunningServer:
    cert = trustme.CA().issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    return await server_factory(
        no_auth=False, token="t", tls_cert=str(chain), tls_key=str(key), handshake_timeout=0.5
    )


async def test_a_stalled_tls_handshake_is_closed_within_the_handshake_bound(
    tls_server: RunningServer,
) -> None:
    # was held 60 s (the event loop's TLS default) whatever the handshake bound said
    assert await seconds_until_closed(tls_server.port) < 5.0


async def test_a_stalled_plain_request_is_closed_within_the_handshake_bound(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(handshake_timeout=0.5)
    assert await seconds_until_closed(server.port, b"GET /ws HTTP/1.1\r\n") < 5.0


def low_fd_limit(soft: int, hard: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def start_limited(tmp_path: Path, soft: int, hard: int) -> ServerProcess:
    """calc-server with a generated token and an open files limit of ``soft``/``hard``."""
    env = clean_env(CALC_TOKEN_DIR=str(tmp_path))
    return await ServerProcess.start(
        auth=Auth.SERVER_DEFAULT, env=env, preexec_fn=lambda: low_fd_limit(soft, hard)
    )


async def test_idle_sockets_beyond_the_fd_limit_do_not_lock_out_a_client(tmp_path: Path) -> None:
    server = await start_limited(tmp_path, 256, 256)
    port = server.port
    idle: list[asyncio.StreamWriter] = []
    try:
        for _ in range(300):  # more than the server has descriptors
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            idle.append(writer)
        finished = await run_calc(
            "status",
            "--url",
            f"ws://127.0.0.1:{port}/ws",
            env=clean_env(CALC_TOKEN_DIR=str(tmp_path)),
        )
        assert finished.code == 0, finished.stderr
        assert "open files limit 256;" in server.head
    finally:
        for writer in idle:
            writer.close()
        await server.shut_down(timeout=10)


async def test_the_soft_fd_limit_is_raised_to_the_hard_one_and_logged(tmp_path: Path) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard > 4096:
        hard = 4096
    server = await start_limited(tmp_path, 256, hard)
    await server.shut_down(timeout=10)
    assert f"open files limit {hard} (raised from 256)" in server.head
