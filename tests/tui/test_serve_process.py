"""`calc-tui --serve` as a real process on a pseudo-terminal: SIGTERM and SIGHUP end it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import WSCloseCode

from calc_local.tokenfile import read_token, token_path
from protocol import Phase, Start, State
from tests.processes import TerminalApp, free_port
from tests.wsclient import RawClient


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[TerminalApp]:
    port = free_port()
    env = {**os.environ, "CALC_TOKEN_DIR": str(tmp_path), "TERM": "xterm-256color"}
    env["CALC_TOKEN"] = "token-from-the-environment"  # --serve must still reach its own server
    args = ("--serve", "--port", str(port), "--stage-seconds", "5")
    app = await TerminalApp.start(*args, port=port, env=env)
    yield app
    await app.stop()


async def connect_when_up(serving: TerminalApp, token: str) -> RawClient:
    """A raw client of the embedded server, once the app shows its own client got in."""
    await serving.shows(b"connected", timeout=60)  # a busy machine starts Textual slowly
    return await RawClient.open_ready(
        f"ws://127.0.0.1:{serving.port}/ws", headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
async def test_signal_shuts_the_embedded_server_down_cleanly(
    serving: TerminalApp, sig: signal.Signals, tmp_path: Path
) -> None:
    token = "token-from-the-environment"
    watcher = await connect_when_up(serving, token)
    try:
        assert read_token(serving.port, {"CALC_TOKEN_DIR": str(tmp_path)}) == token
        sent = await watcher.send(Start(request_id="go"))
        await watcher.expect(State, lambda s: s.state is Phase.STARTING, since=sent)
        serving.proc.send_signal(sig)
        final = await watcher.expect(State, lambda s: s.state.terminal, since=sent)
        assert (final.state, final.ended_by) == (Phase.CANCELED, "server shutdown")
        assert await watcher.wait_closed() == WSCloseCode.GOING_AWAY
        async with asyncio.timeout(30):
            assert await serving.proc.wait() == 0
        assert not token_path(serving.port, {"CALC_TOKEN_DIR": str(tmp_path)}).exists()
    finally:
        await watcher.close()


async def test_terminal_gone_without_a_signal_ends_the_process_cleanly(
    serving: TerminalApp, tmp_path: Path
) -> None:
    token = "token-from-the-environment"
    watcher = await connect_when_up(serving, token)
    try:
        sent = await watcher.send(Start(request_id="go"))  # a running calculation repaints
        await watcher.expect(State, lambda s: s.state is Phase.STARTING, since=sent)
        serving.close()  # the terminal goes away and no signal comes (as under `make run`)
        async with asyncio.timeout(30):
            await serving.proc.wait()
        final = await watcher.expect(State, lambda s: s.state.terminal, since=sent)
        assert (final.state, final.ended_by) == (Phase.CANCELED, "server shutdown")
        assert await watcher.wait_closed() == WSCloseCode.GOING_AWAY
        assert not token_path(serving.port, {"CALC_TOKEN_DIR": str(tmp_path)}).exists()
        with socket.socket() as s:
            s.bind(("127.0.0.1", serving.port))  # the port is free again
    finally:
        await watcher.close()
