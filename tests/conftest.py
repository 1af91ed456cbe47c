"""Shared fixtures: real servers on 127.0.0.1 with a free port and short stages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from calc_server.config import Settings
from calc_server.runner import RunningServer, start_server

TEST_SETTINGS = Settings(host="127.0.0.1", port=0, stage_seconds=0.2, heartbeat=5.0)
"""Loopback, any free port, 0.2 s stages."""

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
