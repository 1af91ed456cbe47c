"""Case 5: a thousand clients come and go in waves while calculations run; nothing leaks.

Ten clients stay for the whole run and must see every state, in order; the others connect,
take their welcome and snapshot, and leave. The waves go on until the churn has spanned at
least two calculations, however fast or slow the machine. Afterwards the hub is empty and the
process has exactly as many file descriptors open as before the first client came.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from calc_server.keys import HUB
from calc_server.runner import RunningServer
from protocol import Start, State, Welcome
from tests.conftest import LONG_STAGE, ServerFactory, both_presence_delays
from tests.reliability.swarm import (
    Watcher,
    close_all,
    contiguous,
    new_session,
    open_fds,
    open_many,
    raise_fd_limit,
)
from tests.wsclient import RawClient

CHURNERS = 1000
WAVES = 10
"""At least this many waves of ``CHURNERS // WAVES`` clients each."""
MAX_WAVES = 100
"""Bound on the waves while waiting for a second calculation to start."""
STAYERS = 10
CALCULATIONS = 2
"""The churn goes on until at least this many calculations have started."""


class Calculating:
    """Starts a new calculation whenever the last one ended, until stopped."""

    def __init__(self, server: RunningServer) -> None:
        self.started = 0
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(server))

    async def _run(self, server: RunningServer) -> None:
        driver = await RawClient.open(server.url)
        try:
            await driver.expect(Welcome, since=0)
            while not self._stop.is_set():
                sent = await driver.send(Start(request_id=f"go{self.started}"))
                assert (await driver.ack(f"go{self.started}", since=sent)).accepted
                self.started += 1
                await driver.expect(State, lambda s: s.state.terminal, since=sent)
        finally:
            await driver.close()

    async def stop(self) -> int:
        """Let the running calculation end, start no other; return how many were started."""
        self._stop.set()
        await asyncio.wait_for(self._task, timeout=30)
        return self.started

    async def abandon(self) -> None:
        """Stop at once (on a failure)."""
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition()`` (no event marks a closed descriptor); fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@both_presence_delays
async def test_thousand_clients_churn_in_waves_during_calculations(
    server_factory: ServerFactory,
) -> None:
    raise_fd_limit(4 * CHURNERS // WAVES + 1024)
    # no heartbeat: a thousand readers in one busy process may answer a ping late, and the
    # heartbeat is not what this test is about
    server = await server_factory(stage_seconds=0.2, heartbeat=LONG_STAGE)
    hub = server.app[HUB]
    loop = asyncio.get_running_loop()
    async with new_session() as session:
        fds_before = open_fds()
        began = loop.time()
        stayers = await open_many(session, server.url, STAYERS)
        calculating = Calculating(server)
        churned: list[Watcher] = []
        waves = 0
        try:
            await stayers[0].until(lambda w: w.states[-1].state.running)
            # a fast machine churns a thousand clients within one calculation: go on until
            # the next one has started (with a wave after it), a slow one just takes longer
            while waves < WAVES or calculating.started < CALCULATIONS:
                assert waves < MAX_WAVES, f"{waves} waves and still one calculation"
                wave = await open_many(session, server.url, CHURNERS // WAVES)
                churned.extend(wave)
                await close_all(wave)
                waves += 1
            calculations = await calculating.stop()
            last = stayers[0].states[-1].seq
            await asyncio.gather(*(w.until_seq(last) for w in stayers))
        finally:
            await calculating.abandon()
            await close_all(stayers)
        elapsed = loop.time() - began
        await wait_until(lambda: len(hub) == 0, 30)
    await wait_until(lambda: open_fds() == fds_before, 30)

    assert calculations >= CALCULATIONS, "the churn spanned more than one calculation"
    history = stayers[0].pairs()
    assert contiguous(history)
    assert all(w.pairs() == history for w in stayers)
    seen = dict(history)
    for watcher in churned:
        assert watcher.first == ["Welcome", "State"]
        first = watcher.states[0]
        assert first.seq == 0 or seen.get(first.seq) is first.state, "snapshot matches history"
    assert all(not w.others and not w.undecodable for w in [*stayers, *churned])
    print(
        f"\nFIGURES churn: churners={len(churned)} in {waves} waves, stayers={STAYERS}, "
        f"calculations={calculations}, states per stayer={len(history)}, lost=0, "
        f"hub after={len(hub)}, fds before={fds_before} after={open_fds()}, time={elapsed:.2f}s"
    )
