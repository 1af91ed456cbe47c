"""Case 6: a thousand clients through five calculations see one identical, gapless history."""

from __future__ import annotations

import asyncio

from calc_server.keys import HUB
from protocol import Cancel, Phase, Start, State, Welcome
from tests.conftest import ServerFactory
from tests.reliability.swarm import (
    close_all,
    contiguous,
    new_session,
    open_many,
    raise_fd_limit,
)
from tests.wsclient import RawClient

CLIENTS = 1000
CALCULATIONS = 5
CANCEL_IN = {1: Phase.STARTING, 3: Phase.IN_PROGRESS}
"""Calculation index -> the stage in which the driver cancels it; the others run to SUCCESS."""


async def test_thousand_clients_see_identical_sequences_through_five_calculations(
    server_factory: ServerFactory,
) -> None:
    raise_fd_limit(4 * CLIENTS + 256)
    server = await server_factory(stage_seconds=0.3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    driver = await RawClient.open(server.url)
    async with new_session() as session:
        watchers = await open_many(session, server.url, CLIENTS)
        connected = loop.time()
        try:
            await driver.expect(Welcome)
            assert len(server.app[HUB]) == CLIENTS + 1
            for n in range(CALCULATIONS):
                await driver.send(Start(request_id=f"start{n}"))
                assert (await driver.ack(f"start{n}")).accepted
                if n in CANCEL_IN:
                    await driver.expect(State, lambda s, n=n: s.state is CANCEL_IN[n], timeout=5)
                    await driver.send(Cancel(request_id=f"cancel{n}"))
                    assert (await driver.ack(f"cancel{n}")).accepted
                final = await driver.expect(State, lambda s: s.state.terminal, timeout=10)
                await asyncio.gather(*(w.until_seq(final.seq, timeout=30) for w in watchers))
            finished = loop.time()
        finally:
            await close_all(watchers)
            await driver.close()

    history = [(s.seq, s.state) for s in driver.states() if s.seq > 0]
    assert contiguous(history)
    assert [s for _, s in history].count(Phase.SUCCESS) == CALCULATIONS - len(CANCEL_IN)
    assert [s for _, s in history].count(Phase.CANCELED) == len(CANCEL_IN)
    differing = [w for w in watchers if [p for p in w.pairs() if p[0] > 0] != history]
    assert not differing, f"{len(differing)} clients saw another sequence"
    assert all(not w.others and not w.undecodable for w in watchers)
    received = sum(len(w.states) for w in watchers)
    print(
        f"\nFIGURES fanout: clients={CLIENTS} changes={len(history)} "
        f"state messages received={received} lost=0 connect={connected - began:.2f}s "
        f"run={finished - connected:.2f}s"
    )
