"""`calc-tui --serve` as a real process on a pseudo-terminal: SIGTERM and SIGHUP end it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import WSCloseCode

from calc_local.tokenfile import read_token, token_path
from protocol import Phase, Start, State
from tests.wsclient import RawClient

CALC_TUI = str(Path(sys.executable).with_name("calc-tui"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TerminalApp:
    """``calc-tui --serve`` attached to a pseudo-terminal whose output is drained."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int, port: int) -> None:
        self.proc = proc
        self.master = master
        self.port = port
        self.output = bytearray()
        self._more = asyncio.Event()
        asyncio.get_running_loop().add_reader(master, self._drain)

    def _drain(self) -> None:
        try:
            self.output += os.read(self.master, 65536)
        except OSError:
            asyncio.get_running_loop().remove_reader(self.master)
        self._more.set()

    async def shows(self, text: bytes, timeout: float = 10.0) -> None:
        """Wait until the terminal output contains ``text``."""
        async with asyncio.timeout(timeout):
            while text not in self.output:
                self._more.clear()
                await self._more.wait()

    def close(self) -> None:
        """Close the terminal's master side, as a closed window or a dropped SSH link does."""
        if self.master >= 0:
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
            self.master = -1


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[TerminalApp]:
    master, slave = os.openpty()
    port = free_port()
    env = {**os.environ, "CALC_TOKEN_DIR": str(tmp_path), "TERM": "xterm-256color"}
    env["CALC_TOKEN"] = "token-from-the-environment"  # --serve must still reach its own server
    proc = await asyncio.create_subprocess_exec(
        CALC_TUI,
        "--serve",
        "--port",
        str(port),
        "--stage-seconds",
        "5",
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    app = TerminalApp(proc, master, port)
    yield app
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
    app.close()


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
