"""Case 5: a thousand clients come and go in waves while calculations run; nothing leaks.

Ten clients stay for the whole run and must see every state, in order; the others connect,
take their welcome and snapshot, and leave. Afterwards the hub is empty and the process has
exactly as many file descriptors open as before the first client came.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from calc_server.keys import HUB
from calc_server.runner import RunningServer
from protocol import Start, State, Welcome
from tests.conftest import ServerFactory
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
STAYERS = 10


async def keep_calculating(server: RunningServer, stop: asyncio.Event) -> int:
    """Start a new calculation whenever the last one ended, until ``stop``; return how many."""
    driver = await RawClient.open(server.url)
    started = 0
    try:
        await driver.expect(Welcome)
        while not stop.is_set():
            await driver.send(Start(request_id=f"go{started}"))
            assert (await driver.ack(f"go{started}")).accepted
            started += 1
            await driver.expect(State, lambda s: s.state.terminal, timeout=10)
    finally:
        await driver.close()
    return started


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition()`` (no event marks a closed descriptor); fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_thousand_clients_churn_in_waves_during_calculations(
    server_factory: ServerFactory,
) -> None:
    raise_fd_limit(4 * CHURNERS // WAVES + 1024)
    server = await server_factory(stage_seconds=0.2)
    hub = server.app[HUB]
    loop = asyncio.get_running_loop()
    async with new_session() as session:
        fds_before = open_fds()
        began = loop.time()
        stayers = await open_many(session, server.url, STAYERS)
        stop = asyncio.Event()
        calculating = asyncio.create_task(keep_calculating(server, stop))
        churned: list[Watcher] = []
        try:
            await stayers[0].until(lambda w: w.states[-1].state.running, timeout=5)
            for _ in range(WAVES):
                wave = await open_many(session, server.url, CHURNERS // WAVES)
                churned.extend(wave)
                await close_all(wave)
            stop.set()
            calculations = await asyncio.wait_for(calculating, timeout=10)
            last = stayers[0].states[-1].seq
            await asyncio.gather(*(w.until_seq(last) for w in stayers))
        finally:
            stop.set()
            await asyncio.gather(calculating, return_exceptions=True)
            await close_all(stayers)
        elapsed = loop.time() - began
        await wait_until(lambda: len(hub) == 0, 5)
    await wait_until(lambda: open_fds() == fds_before, 5)

    assert calculations >= 2, "the churn spanned more than one calculation"
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
        f"\nFIGURES churn: churners={CHURNERS} in {WAVES} waves, stayers={STAYERS}, "
        f"calculations={calculations}, states per stayer={len(history)}, lost=0, "
        f"hub after={len(hub)}, fds before={fds_before} after={open_fds()}, time={elapsed:.2f}s"
    )
