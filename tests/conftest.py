"""Shared fixtures: real servers on 127.0.0.1 with a free port and short stages."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from calc_server.config import Settings
from calc_server.runner import RunningServer, start_server
from tests.wsclient import RawClient

# Token files of servers started by the tests go to a private directory, never $HOME, and no
# token from the developer's shell leaks into a test.
os.environ["CALC_TOKEN_DIR"] = tempfile.mkdtemp(prefix="calc-test-tokens-")
atexit.register(shutil.rmtree, os.environ["CALC_TOKEN_DIR"], ignore_errors=True)
os.environ.pop("CALC_TOKEN", None)
os.environ.pop("CALC_URL", None)

TEST_SETTINGS = Settings(host="127.0.0.1", port=0, stage_seconds=0.2, heartbeat=5.0, no_auth=True)
"""Loopback, any free port, 0.2 s stages, no token (security tests set their own)."""

ServerFactory = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def server_factory() -> AsyncIterator[ServerFactory]:
    """Start real servers (``Settings`` fields as keyword overrides); all stop at teardown."""
    servers: list[RunningServer] = []

    async def make(**overrides: Any) -> RunningServer:
        server = await start_server(replace(TEST_SETTINGS, **overrides))
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    """One real server with 0.2 s stages."""
    return await server_factory()


@pytest.fixture
async def raw_clients() -> AsyncIterator[list[RawClient]]:
    """Raw clients a test opens and appends here; all closed at teardown."""
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()
