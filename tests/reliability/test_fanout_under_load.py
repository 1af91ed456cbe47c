"""Case 6: a thousand clients through five calculations see one identical, gapless history.

Two of the calculations are canceled, three run to SUCCESS. The first cancel follows its start
in the same breath, so it lands in STARTING; the second goes out half-way through the second
stage by the driver's clock (waiting for the driver's own copy of a broadcast, behind a
thousand other readers, can take longer than a stage on a busy machine). A cancel can still
arrive after the run has ended: it is refused, that calculation counts as a SUCCESS and the
driver cancels the next one in the same breath as its start. How fast the fan-out is belongs
to ``make bench``.
"""

from __future__ import annotations

import asyncio

from calc_server.keys import HUB
from protocol import Cancel, Phase, Start, State, Welcome
from tests.conftest import LONG_STAGE, ServerFactory, both_presence_delays
from tests.reliability.swarm import (
    close_all,
    contiguous,
    new_session,
    open_many,
    raise_fd_limit,
)
from tests.wsclient import RawClient

pytestmark = both_presence_delays
"""Each test against a server with the presence delay and one without."""

CLIENTS = 1000
STAGE = 0.3
SUCCESSES = 3
CANCEL_AFTER = (0.0, 1.5 * STAGE)
"""Seconds after sending a start at which the driver cancels, one calculation each."""
MAX_CALCULATIONS = 8
"""Bound on the calculations run to see both kinds of ending."""


async def test_thousand_clients_see_identical_sequences_through_five_calculations(
    server_factory: ServerFactory,
) -> None:
    raise_fd_limit(4 * CLIENTS + 256)
    # no heartbeat: a thousand readers in one busy process may answer a ping late, and the
    # heartbeat is not what this test is about
    server = await server_factory(stage_seconds=STAGE, heartbeat=LONG_STAGE)
    loop = asyncio.get_running_loop()
    began = loop.time()
    driver = await RawClient.open(server.url)
    async with new_session() as session:
        watchers = await open_many(session, server.url, CLIENTS)
        connected = loop.time()
        try:
            await driver.expect(Welcome, since=0)
            assert len(server.app[HUB]) == CLIENTS + 1
            cancels = list(CANCEL_AFTER)
            successes = 0
            for n in range(MAX_CALCULATIONS):
                if successes >= SUCCESSES and not cancels:
                    break
                sent = await driver.send(Start(request_id=f"start{n}"))
                if cancels and (successes >= SUCCESSES or n % 2):
                    if cancels[0]:
                        await asyncio.sleep(cancels[0])
                    await driver.send(Cancel(request_id=f"cancel{n}"))
                    if (await driver.ack(f"cancel{n}", since=sent)).accepted:
                        cancels.pop(0)
                    else:
                        cancels[0] = 0.0  # too late on this machine: cancel at once instead
                assert (await driver.ack(f"start{n}", since=sent)).accepted
                final = await driver.expect(State, lambda s: s.state.terminal, since=sent)
                successes += final.state is Phase.SUCCESS
                await asyncio.gather(*(w.until_seq(final.seq, timeout=60) for w in watchers))
            finished = loop.time()
            assert not cancels, f"{len(cancels)} cancels never landed in {n} calculations"
        finally:
            await close_all(watchers)
            await driver.close()

    history = [(s.seq, s.state) for s in driver.states() if s.seq > 0]
    assert contiguous(history)
    assert [s for _, s in history].count(Phase.SUCCESS) == successes >= SUCCESSES
    assert [s for _, s in history].count(Phase.CANCELED) == len(CANCEL_AFTER)
    differing = [w for w in watchers if [p for p in w.pairs() if p[0] > 0] != history]
    assert not differing, f"{len(differing)} clients saw another sequence"
    assert all(not w.others and not w.undecodable for w in watchers)
    received = sum(len(w.states) for w in watchers)
    print(
        f"\nFIGURES fanout: clients={CLIENTS} changes={len(history)} "
        f"state messages received={received} lost=0 connect={connected - began:.2f}s "
        f"run={finished - connected:.2f}s"
    )
