"""Shared fixtures: real servers on 127.0.0.1 with a free port and short stages."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

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

LONG_STAGE = 3600.0
"""Stage seconds no test outlasts: the calculation still runs whenever the test acts on it."""

ServerFactory = Callable[..., Awaitable[RunningServer]]
T = TypeVar("T")

LONGER_STAGE_ATTEMPTS = 6
"""Attempts of ``with_longer_stages``: the last one has stages 32 times the first."""

both_presence_delays = pytest.mark.parametrize(
    "presence_delay",
    [TEST_SETTINGS.presence_delay, 0.0],
    ids=["presence-coalesced", "presence-at-once"],
)
"""Run a test against servers with the default presence delay and with none.

With none, every connect and leave sends its own presence (as when connects are far apart,
or on a slow machine), so a wait that a stale presence could satisfy shows up.
"""


@pytest.fixture
def presence_delay() -> float:
    """The presence delay of the servers a test starts; ``both_presence_delays`` varies it."""
    return TEST_SETTINGS.presence_delay


@pytest.fixture
async def server_factory(presence_delay: float) -> AsyncIterator[ServerFactory]:
    """Start real servers (``Settings`` fields as keyword overrides); all stop at teardown."""
    servers: list[RunningServer] = []

    async def make(**overrides: Any) -> RunningServer:
        fields = {"presence_delay": presence_delay, **overrides}
        server = await start_server(replace(TEST_SETTINGS, **fields))
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(server_factory: ServerFactory) -> RunningServer:
    """One real server with 0.2 s stages."""
    return await server_factory()


async def with_longer_stages(
    server_factory: ServerFactory,
    first_stage: float,
    attempt: Callable[[RunningServer, float], Awaitable[T | None]],
) -> T:
    """Run ``attempt(server, stage)`` on fresh servers whose stages double until it succeeds.

    For a test that must act inside one particular stage (cancel in it, join during it): an
    attempt returns None when its action landed in a later stage because the machine was
    slower than the stage was long, and the next attempt gets twice the time.
    """
    stage = first_stage
    for _ in range(LONGER_STAGE_ATTEMPTS):
        result = await attempt(await server_factory(stage_seconds=stage), stage)
        if result is not None:
            return result
        stage *= 2
    raise AssertionError(f"the action never landed in its stage, even with {stage / 2}s stages")


@pytest.fixture
async def raw_clients() -> AsyncIterator[list[RawClient]]:
    """Raw clients a test opens and appends here; all closed at teardown."""
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()
