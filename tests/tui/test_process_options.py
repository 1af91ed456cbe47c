"""`calc-tui` options, as a real process on a pseudo-terminal: its name, its URL's scheme."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import pytest

from calc_server.runner import RunningServer
from protocol import PROTOCOL_VERSION, Hello, Phase, Presence, State
from tests.conftest import ServerFactory
from tests.processes import CALC_TUI, TerminalApp, clean_env, run_to_exit
from tests.wsclient import RawClient


@pytest.fixture
async def terminals() -> AsyncIterator[list[TerminalApp]]:
    """calc-tui processes started by a test; killed at teardown if still running."""
    started: list[TerminalApp] = []
    yield started
    for app in started:
        await app.stop()


async def launch(
    terminals: list[TerminalApp], server: RunningServer, *args: str, **env: str
) -> TerminalApp:
    """Start ``calc-tui ARGS`` (default: the server's URL) on a pseudo-terminal.

    The environment is clean plus ``env``.
    """
    app = await TerminalApp.start(
        *(args or (server.url,)), port=server.port, env=clean_env(TERM="xterm-256color", **env)
    )
    terminals.append(app)
    return app


async def started_by(
    terminals: list[TerminalApp], server: RunningServer, *args: str, **env: str
) -> str:
    """Start a run with ``s`` in a real calc-tui; the ``started_by`` the server gave it."""
    watcher = await RawClient.open_ready(server.url)
    try:
        await watcher.send(Hello(protocol=PROTOCOL_VERSION, client="watcher"))
        app = await launch(terminals, server, server.url, *args, **env)
        await watcher.expect(Presence, lambda p: p.clients == 2, timeout=20)
        await app.shows(b"connected")
        os.write(app.master, b"s")
        state = await watcher.expect(State, lambda s: s.state is Phase.STARTING, timeout=10)
        assert state.started_by is not None
        return state.started_by
    finally:
        await watcher.close()


async def test_calc_tui_is_named_user_at_host_by_default(
    server: RunningServer, terminals: list[TerminalApp]
) -> None:
    name = await started_by(terminals, server, LOGNAME="alice", USER="alice")
    assert name.startswith(f"alice@{socket.gethostname()}"[:64] + " (")


async def test_calc_tui_takes_calc_name_and_the_name_option(
    server_factory: ServerFactory, terminals: list[TerminalApp]
) -> None:
    from_env = await started_by(terminals, await server_factory(), CALC_NAME="dana")
    assert from_env.startswith("dana (")
    from_option = await started_by(
        terminals, await server_factory(), "--name", "erin", CALC_NAME="dana"
    )
    assert from_option.startswith("erin (")


async def test_an_http_url_is_taken_as_its_websocket(
    server: RunningServer, terminals: list[TerminalApp]
) -> None:
    watcher = await RawClient.open_ready(server.url)
    try:
        http_url = "http://" + server.url.removeprefix("ws://")
        app = await launch(terminals, server, http_url)
        await watcher.expect(Presence, lambda p: p.clients == 2, timeout=20)
        await app.shows(b"connected")
    finally:
        await watcher.close()


async def test_another_scheme_is_refused_with_the_ones_it_takes() -> None:
    ended = await run_to_exit(CALC_TUI, "ftp://127.0.0.1/ws", env=clean_env(), timeout=30)
    assert ended.code == 2
    assert "must be a ws://, wss://, http:// or https:// URL" in ended.stderr
