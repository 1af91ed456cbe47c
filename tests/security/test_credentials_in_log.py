"""No request, however malformed, puts a traceback or any part of a credential in the log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from calc_server.httplog import REQUEST_LOG
from tests.conftest import ServerFactory

TOKEN = "Zr7pQ2xW9vL4mN8kT3jH6gF1dS5aB0cE"
UPGRADE = (
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


async def exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, return the server's answer: its status line and headers at least."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        async with asyncio.timeout(5):
            return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial  # closed without a complete answer
    finally:
        writer.close()


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {TOKEN}\x01".encode(),  # the reported case: a control character after it
        f"Bearer {TOKEN}\x00".encode(),
        f"Bearer {TOKEN}\x7f".encode(),
        f"Bearer \x01{TOKEN}".encode(),
        f"Bearer {TOKEN}".encode() + b"\xff\xfe",
        f"Bearer {TOKEN}".encode() + b"A" * 20_000,  # a header line too long
    ],
    ids=["x01-after", "nul-after", "del-after", "x01-before", "not-utf8", "too-long"],
)
async def test_malformed_authorization_header_leaves_no_trace_of_the_token(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture, authorization: bytes
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await server_factory(no_auth=False, token=TOKEN)
    request = (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{UPGRADE}".encode()
        + b"Authorization: "
        + authorization
        + b"\r\n\r\n"
    )
    answer = await exchange(server.port, request)
    assert answer[:10] in (b"HTTP/1.0 4", b"HTTP/1.1 4")
    # the request was refused and logged: wait for nothing else, the record is synchronous
    text = caplog.text
    assert "Traceback" not in text
    assert not [r for r in caplog.records if r.exc_info or r.exc_text]
    for part in (TOKEN[:8], TOKEN[8:16], TOKEN[16:24], TOKEN[24:]):
        assert part not in text
    assert any("malformed HTTP request" in r.getMessage() for r in caplog.records) or (
        answer.startswith(b"HTTP/1.1 401")  # parsed after all: an ordinary wrong token
    )


async def test_garbage_instead_of_http_is_one_line_without_traceback(
    server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = await server_factory(no_auth=False, token=TOKEN)
    await exchange(server.port, b"\x16\x03\x01" + TOKEN.encode() + b"\r\n\r\n")
    await exchange(server.port, b"GET /ws HTTP/1.1\r\nHost: x\r\nBad Header: " + TOKEN.encode())
    assert "Traceback" not in caplog.text
    assert TOKEN[:8] not in caplog.text


def test_a_peer_resetting_mid_answer_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        raise ConnectionResetError(f"reset while writing Bearer {TOKEN}")
    except ConnectionResetError:
        REQUEST_LOG.exception("Error handling request from %s", "127.0.0.1")
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "connection from 127.0.0.1 lost during its request (ConnectionResetError)"
    )
    assert TOKEN not in caplog.text
