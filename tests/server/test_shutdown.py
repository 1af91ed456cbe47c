"""A real calc-server process: listening line, graceful SIGTERM/SIGINT/SIGHUP, exit code."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator

import pytest
from aiohttp import WSCloseCode

from calc_local.tokenfile import token_path
from protocol import Error, Phase, Start, State, Welcome
from tests.looplag import LoopLag
from tests.processes import Auth, ServerProcess
from tests.wsclient import RawClient

SHUTDOWN_PROMISE = 2.0
"""Seconds from SIGTERM or SIGINT to the exit, as the README says."""
SHUTDOWN_STEPS = 20
"""Times the server process may have to wait for the CPU while it shuts down: the signal,
the cancel and its broadcast, a close handshake per client, the runner's clean-up, exit."""


@pytest.fixture
async def process() -> AsyncIterator[ServerProcess]:
    server = await ServerProcess.start("--stage-seconds", "5", auth=Auth.SERVER_DEFAULT)
    yield server
    await server.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
async def test_signal_cancels_running_calculation_then_closes_1001_and_exits_0(
    process: ServerProcess, sig: signal.Signals
) -> None:
    a = await RawClient.open_ready(process.url, headers=process.headers)
    b = await RawClient.open_ready(process.url, headers=process.headers)
    try:
        started = b.mark()
        await a.send(Start(request_id="go"))
        await b.expect(State, lambda s: s.state is Phase.STARTING, since=started)
        loop = asyncio.get_running_loop()
        marks = [a.mark(), b.mark()]
        async with LoopLag() as lag:
            signaled = loop.time()
            process.proc.send_signal(sig)
            for client, mark in zip((a, b), marks, strict=True):
                final = await client.expect(State, lambda s: s.state.terminal, since=mark)
                assert (final.state, final.ended_by) == (Phase.CANCELED, "server shutdown")
                assert await client.wait_closed() == WSCloseCode.GOING_AWAY
            assert await process.proc.wait() == 0
            took = loop.time() - signaled
        # the promise is 2 s; on a busy machine the server process waits for the CPU as
        # often as this one does, at each of the steps of its shutdown
        assert took < SHUTDOWN_PROMISE + lag.allowance(stalls=SHUTDOWN_STEPS), (took, lag.worst)
        await process.wait()
        log = process.log_text
        assert "shutting down" in log
        assert "Traceback" not in log
        assert not token_path(process.port).exists()  # removed, as on every graceful exit
    finally:
        await a.close()
        await b.close()


async def test_log_has_one_line_per_event_and_never_a_huge_body(process: ServerProcess) -> None:
    client = await RawClient.open(process.url, headers=process.headers)
    try:
        await client.expect(Welcome, since=0)
        await client.send(b'{"type":"hello","protocol":1,"client":"logcheck"}')
        sent = await client.send(Start(request_id="go"))
        await client.expect(State, lambda s: s.state is Phase.STARTING, since=sent)
        sent = await client.send(Start(request_id="again"))
        await client.ack("again", since=sent)
        sent = await client.send(b'{"type":"start","request_id":"' + b"A" * 60000 + b'"}')
        assert (await client.expect(Error, since=sent)).code == "bad_message"
    finally:
        await client.close()
    await process.shut_down(timeout=10)
    log = process.log_text
    assert re.search(r"connect c\d+ from 127\.0\.0\.1:\d+, 1 connected", log)
    assert "logcheck (c" in log
    assert "state STARTING" in log
    assert "rejected (already_running)" in log
    assert "sent a bad message" in log
    assert re.search(
        r"disconnect logcheck \(c\d+\) from 127\.0\.0\.1:\d+ \(code \d+\), 0 connected", log
    )
    assert "A" * 100 not in log
