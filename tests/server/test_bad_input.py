"""Bad input gets a clear answer; the server and every other client go on."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from aiohttp import WSCloseCode

from calc_server.connection import Connection
from calc_server.keys import HUB
from calc_server.runner import RunningServer
from protocol import Ack, Error, Presence, Start, State, Sync
from tests.conftest import ServerFactory, both_presence_delays
from tests.wsclient import RawClient

pytestmark = both_presence_delays
"""Each test against a server with the presence delay and one without."""


async def open_ready(server: RunningServer) -> RawClient:
    return await RawClient.open_ready(server.url)


async def still_usable(client: RawClient, request_id: str = "check") -> None:
    sent = await client.send(Sync(request_id=request_id))
    assert (await client.ack(request_id, since=sent)).accepted


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"not json", "JSON is malformed: invalid character (byte 4)"),
        (b'{"type":"launch","request_id":"a"}', "Invalid value 'launch' - at `$.type`"),
        (b'{"request_id":"a"}', "Object missing required field `type`"),
        (b'{"type":"start"}', "Object missing required field `request_id`"),
        (b'{"type":"start","request_id":7}', "Expected `str`, got `int` - at `$.request_id`"),
        (b'{"type":"start","request_id":""}', "Expected `str` of length >= 1 - at `$.request_id`"),
        (b"[1,2,3]", "Expected `object`, got `array`"),
    ],
)
async def test_bad_message_gets_error_with_decoder_text_and_connection_stays(
    server: RunningServer, frame: bytes, message: str
) -> None:
    client = await open_ready(server)
    try:
        sent = await client.send(frame)
        error = await client.expect(Error, since=sent)
        assert (error.code, error.message) == ("bad_message", message)
        await still_usable(client)
    finally:
        await client.close()


async def test_unsupported_protocol_version_is_refused(server: RunningServer) -> None:
    client = await open_ready(server)
    try:
        sent = await client.send(b'{"type":"hello","protocol":2,"client":"future"}')
        error = await client.expect(Error, since=sent)
        assert error.code == "unsupported_protocol"
        assert "protocol 1" in error.message
        await still_usable(client)
    finally:
        await client.close()


async def test_binary_frame_closes_1003_and_others_go_on(server: RunningServer) -> None:
    bystander = await open_ready(server)
    joined = bystander.mark()
    offender = await open_ready(server)
    try:
        await bystander.expect(Presence, lambda p: p.clients == 2, since=joined)
        left = bystander.mark()
        await offender.ws.send_bytes(b"\x00\x01")
        assert await offender.wait_closed() == WSCloseCode.UNSUPPORTED_DATA
        await bystander.expect(Presence, lambda p: p.clients == 1, since=left)
        assert len(server.app[HUB]) == 1
        await still_usable(bystander)
    finally:
        await offender.close()
        await bystander.close()


async def test_frame_over_64_kib_closes_1009(server: RunningServer) -> None:
    bystander = await open_ready(server)
    offender = await open_ready(server)
    try:
        huge = b'{"type":"sync","request_id":"' + b"x" * (64 * 1024) + b'"}'
        await offender.send(huge)
        assert await offender.wait_closed() == WSCloseCode.MESSAGE_TOO_BIG
        await still_usable(bystander)
    finally:
        await offender.close()
        await bystander.close()


async def test_flood_gets_rate_limited_then_closed_1008(server_factory: ServerFactory) -> None:
    # a refill far slower than any flood: however long sending it takes, the burst is all
    # that is allowed (the refill itself is tested on the bucket, with an injected clock)
    server = await server_factory(rate_burst=20, rate_per_second=0.001)
    bystander = await open_ready(server)
    flooder = await open_ready(server)
    try:
        flood = flooder.mark()
        for i in range(60):  # burst is 20; 20 more refused in a row closes
            if flooder.ws.closed:
                break
            await flooder.send(Sync(request_id=f"f{i}"))
        error = await flooder.expect(Error, since=flood)
        assert error.code == "rate_limited"
        assert await flooder.wait_closed() == WSCloseCode.POLICY_VIOLATION
        answers = [m for m in flooder.messages[flood:] if isinstance(m, Ack | Error)]
        assert [type(m).__name__ for m in answers] == ["Ack"] * 20 + ["Error"]
        await still_usable(bystander)
    finally:
        await flooder.close()
        await bystander.close()


async def test_unexpected_exception_closes_only_that_connection_1011(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Connection._handle

    async def handle_or_explode(self: Connection, data: bytes) -> None:
        if b"explode" in data:
            raise RuntimeError("injected fault")
        await original(self, data)

    monkeypatch.setattr(Connection, "_handle", handle_or_explode)
    bystander = await open_ready(server)
    victim = await open_ready(server)
    try:
        await victim.send(Sync(request_id="explode"))  # its only answer is the close
        assert await victim.wait_closed() == WSCloseCode.INTERNAL_ERROR
        await still_usable(bystander)
        late = await open_ready(server)
        await still_usable(late)
        await late.close()
    finally:
        await victim.close()
        await bystander.close()


async def test_error_names_the_request_when_the_bad_frame_has_a_readable_id(
    server: RunningServer,
) -> None:
    client = await open_ready(server)
    try:
        sent = await client.send(b'{"type":"cancel","request_id":"mine","calculation_id":5}')
        error = await client.expect(Error, since=sent)
        assert (error.code, error.request_id) == ("bad_message", "mine")
        assert error.message == "Expected `str | null`, got `int` - at `$.calculation_id`"
    finally:
        await client.close()


async def test_disconnect_log_names_the_code_the_server_closed_with(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calc_server")
    logged = asyncio.Event()

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("disconnect"):
                logged.set()

    handler = Signal()
    logging.getLogger("calc_server").addHandler(handler)
    offender = await open_ready(server)
    try:
        await offender.ws.send_bytes(b"\x00")
        assert await offender.wait_closed() == WSCloseCode.UNSUPPORTED_DATA
        await asyncio.wait_for(logged.wait(), 10)
    finally:
        logging.getLogger("calc_server").removeHandler(handler)
        await offender.close()
    [line] = [r.getMessage() for r in caplog.records if "disconnect" in r.getMessage()]
    assert re.fullmatch(r"disconnect c\d+ from 127\.0\.0\.1:\d+ \(code 1003\), 0 connected", line)


async def test_control_characters_in_the_client_name_are_refused(server: RunningServer) -> None:
    client = await open_ready(server)
    try:
        sent = await client.send(
            b'{"type":"hello","protocol":1,"client":"evil\\u001b[2J\\nFORGED"}'
        )
        error = await client.expect(Error, since=sent)
        assert error.code == "bad_message"
        assert "$.client" in error.message
        sent = await client.send(Start(request_id="s"))
        await client.ack("s", since=sent)
        started = await client.expect(State, lambda s: s.seq == 1, since=sent)
        assert started.started_by is not None
        assert "FORGED" not in started.started_by
    finally:
        await client.close()


async def test_huge_bad_frame_is_neither_echoed_nor_logged_in_full(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="calc_server")
    client = await open_ready(server)
    try:
        sent = await client.send(b'{"type":"' + b"x" * 60000 + b'"}')
        error = await client.expect(Error, since=sent)
        assert error.code == "bad_message"
        assert len(error.message) <= 200
        await still_usable(client)
    finally:
        await client.close()
    assert max(len(r.getMessage()) for r in caplog.records) < 400
