"""The run owner's lease: a dead owner's run goes on from another node on its original grid,
and an owner paused past its lease can change nothing when it wakes (fencing)."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from calc_server.cluster.lease import Lease
from calc_server.cluster.node import cluster_keys
from calc_server.cluster.state import SharedState
from calc_server.cluster.url import open_client
from protocol import Phase, Start, State
from tests.cluster.nodes import cluster_of
from tests.cluster.test_nodes import BOUND, contiguous, sees
from tests.cluster.waiting import poll

RUN = [Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS]


@pytest.mark.timeout(120)
async def test_a_killed_owners_run_goes_on_from_another_node_on_its_grid(redis_url: str) -> None:
    # The lease outlasts what is left of the first stage: the successor takes over after that
    # stage should have ended, so it must end it at once, measured on the original grid.
    stage, lease = 3.0, 4.0
    async with cluster_of(redis_url, stage_seconds=stage, lease_seconds=lease) as cluster:
        await asyncio.gather(*(cluster.node(name) for name in ("a", "b", "c")))
        starter = await cluster.client("a")
        watchers = [await cluster.client(name) for name in ("b", "b", "c", "c")]
        for client in (starter, *watchers):
            await client.expect(State, since=0, timeout=BOUND)
        first = watchers[0]
        watched = first.mark()
        sent = await starter.send(Start(request_id="go"))
        assert (await starter.ack("go", since=sent, timeout=BOUND)).accepted
        cluster.nodes["a"].signal(signal.SIGKILL)
        killed_at = asyncio.get_running_loop().time()
        await cluster.nodes["a"].wait(timeout=BOUND)
        started = await first.expect(
            State, lambda s: s.state is Phase.STARTING, since=watched, timeout=BOUND
        )
        taken_over = await first.expect(
            State, lambda s: s.state is Phase.IN_PROGRESS, since=watched, timeout=lease + BOUND
        )
        failover = first.received_at[first.messages.index(taken_over)] - killed_at
        done = await first.expect(
            State, lambda s: s.state is Phase.SUCCESS, since=watched, timeout=BOUND
        )
        for watcher in watchers:
            await sees(watcher, done.seq)

    # the stage that should have ended while nobody held the lease ended at once, late by
    # at least what the dead owner's lease still had to run after that stage's end
    assert taken_over.stage_elapsed >= lease - stage - 0.1
    assert failover <= lease + BOUND
    for watcher in watchers:
        run = [s for s in watcher.states() if s.calculation_id == started.calculation_id]
        assert [s.state for s in run] == RUN
        assert contiguous([s.seq for s in run])
        assert [(s.seq, s.state) for s in run] == [(s.seq, s.state) for s in first.states()[1:]]


async def test_an_owner_paused_past_its_lease_changes_nothing_when_it_wakes(
    redis_url: str,
) -> None:
    stage, lease_time = 2.0, 1.0
    async with cluster_of(redis_url, stage_seconds=stage, lease_seconds=lease_time) as cluster:
        owner = await cluster.node("a")
        client = await cluster.client("a")
        await client.expect(State, since=0, timeout=BOUND)
        sent = await client.send(Start(request_id="go"))
        assert (await client.ack("go", since=sent, timeout=BOUND)).accepted
        started = await client.expect(
            State, lambda s: s.state is Phase.STARTING, since=sent, timeout=BOUND
        )
        owner.signal(signal.SIGSTOP)
        paused_at = time.time()

        # The test plays the node that takes the lease over and then stalls itself: nothing
        # but the woken owner could change the state, so any change would be the owner's.
        keys = cluster_keys(cluster.token)
        redis = open_client(redis_url)
        try:
            thief = Lease(redis, keys, node="thief", ttl=30.0)
            grant = await thief.take_over(poll=0.05)
            # wake the owner only once its stage should have ended: it then tries to end it
            await asyncio.sleep(max(0.0, paused_at + stage + 0.2 - time.time()))
            owner.signal(signal.SIGCONT)
            # Awake, the owner either tries to end the stage and is refused for its stale
            # fencing token, or its lease keeper sees the lease gone first and it stops
            # driving: which of its two overdue timers runs first is the scheduler's choice.
            # Either way it must change nothing (test_lease covers the refusal itself).
            await poll(lambda: _logged(owner.log, "is stale", "of a was lost"))
            stored = await SharedState(redis, keys).read()
            assert stored is not None
            assert stored.seq == started.seq
            assert client.states()[-1].seq == started.seq
            # once the lease is free again the run goes on, its overdue stage ending at once
            await thief.release(grant)
            done = await client.expect(
                State, lambda s: s.state is Phase.SUCCESS, since=sent, timeout=BOUND
            )
        finally:
            await redis.aclose()

    run = [s for s in client.states() if s.calculation_id == started.calculation_id]
    assert [s.state for s in run] == RUN
    assert contiguous([s.seq for s in run])
    assert done.calculation_id == started.calculation_id


def _logged(log: list[str], *texts: str) -> bool:
    return any(text in line for line in log for text in texts)
