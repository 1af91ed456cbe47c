"""The run history in cluster mode: in Redis, capped, the same on every node, written once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import pytest

from calc_server.cluster.node import cluster_keys
from calc_server.cluster.url import open_client
from protocol import History, HistoryQuery, Phase, Run, Start, State, Welcome
from tests.cluster.nodes import Cluster, cluster_of
from tests.cluster.test_nodes import BOUND, sees
from tests.redis_server import RedisServer
from tests.wsclient import RawClient


async def one_run(cluster: Cluster, starter: RawClient, watchers: list[RawClient]) -> State:
    """Start a run through ``starter`` and wait until every watcher saw it succeed."""
    sent = await starter.send(Start(request_id=f"go-{starter.mark()}"))
    started = await starter.expect(
        State, lambda s: s.state is Phase.STARTING, since=sent, timeout=BOUND
    )
    done = await starter.expect(
        State,
        lambda s: s.state is Phase.SUCCESS and s.calculation_id == started.calculation_id,
        since=sent,
        timeout=BOUND,
    )
    for watcher in watchers:
        await sees(watcher, done.seq)
    return done


async def page(client: RawClient, limit: int = 20) -> tuple[list[Run], bool]:
    """The runs and ``more`` of the answer to one ``history`` request."""
    request = f"h-{client.mark()}"
    sent = await client.send(HistoryQuery(request_id=request, limit=limit))
    answer = await client.expect(
        History, lambda h: h.request_id == request, since=sent, timeout=BOUND
    )
    return answer.runs, answer.more


async def welcome_of(cluster: Cluster, node: str) -> Welcome:
    """The welcome a new client of ``node`` gets."""
    client = await cluster.client(node)
    return await client.expect(Welcome, since=0, timeout=BOUND)


@pytest.mark.timeout(180)
async def test_every_node_answers_the_same_capped_history_and_each_run_is_recorded_once(
    redis_url: str,
) -> None:
    async with cluster_of(redis_url, stage_seconds=0.2) as cluster:
        await asyncio.gather(
            *(cluster.node(name, "--history-keep", "2") for name in ("a", "b", "c"))
        )
        a, b, c = [await cluster.client(name) for name in ("a", "b", "c")]
        for client in (a, b, c):
            await client.expect(State, since=0, timeout=BOUND)

        first = await one_run(cluster, a, [b, c])
        after_one = [await page(client) for client in (a, b, c)]
        welcomes_after_one = [await welcome_of(cluster, name) for name in ("a", "b", "c")]

        runs = [first, await one_run(cluster, b, [a, c]), await one_run(cluster, c, [a, b])]
        after_three = [await page(client) for client in (a, b, c)]
        welcomes = [await welcome_of(cluster, name) for name in ("a", "b", "c")]

        redis = open_client(redis_url)
        try:
            counts = await redis.hgetall(cluster_keys(cluster.token).run_counts)
        finally:
            await redis.aclose()

    # a run started on A and ended there is the same run on B and C, recorded whole
    assert after_one[1] == after_one[2] == after_one[0]
    [recorded] = after_one[1][0]
    assert recorded.calculation_id == first.calculation_id
    assert (recorded.outcome, recorded.started_by) == ("SUCCESS", first.started_by)
    assert len(recorded.stage_seconds) == 3
    assert recorded.ended_at is not None
    assert recorded.ended_at >= recorded.started_at
    assert all(w.last_run == recorded for w in welcomes_after_one)

    # the cap (--history-keep 2) holds: the two newest, newest first, on every node
    assert after_three[0] == after_three[1] == after_three[2]
    assert [r.calculation_id for r in after_three[0][0]] == [
        runs[2].calculation_id,
        runs[1].calculation_id,
    ]
    assert after_three[0][1] is False
    assert all(w.last_run == after_three[0][0][0] for w in welcomes)

    # three nodes saw each end, one recorded it: exactly three ended runs counted
    assert counts == {b"SUCCESS": b"3"}


async def test_redis_restarted_empty_empties_the_history_and_nothing_breaks(
    redis_factory: Callable[..., RedisServer],
) -> None:
    redis = redis_factory()
    async with cluster_of(redis.url, stage_seconds=0.2) as cluster:
        await asyncio.gather(cluster.node("a"), cluster.node("b"))
        a, b = await cluster.client("a"), await cluster.client("b")
        for client in (a, b):
            await client.expect(State, since=0, timeout=BOUND)
        await one_run(cluster, a, [b])
        before = await page(b)

        await asyncio.to_thread(redis.restart)
        for client in (a, b):
            await client.wait_closed(timeout=BOUND)  # a new epoch: clients reconnect
        again = await cluster.client("b")
        welcome = await again.expect(Welcome, since=0, timeout=BOUND)
        await again.expect(State, since=0, timeout=BOUND)
        emptied = await page(again)
        other = await cluster.client("a")
        await other.expect(State, since=0, timeout=BOUND)
        run = await one_run(cluster, again, [other])
        recorded_again = await page(other)

    assert len(before[0]) == 1
    assert welcome.last_run is None
    assert emptied == ([], False)
    assert [r.calculation_id for r in recorded_again[0]] == [run.calculation_id]


@pytest.mark.timeout(120)
async def test_a_run_ended_by_a_node_that_joined_mid_run_is_recorded_from_its_start(
    redis_url: str,
) -> None:
    # C never saw the run start; it takes the run over when A dies and records its end, with
    # the start A recorded
    async with cluster_of(redis_url, stage_seconds=1.5, lease_seconds=1.0) as cluster:
        await cluster.node("a")
        a = await cluster.client("a")
        await a.expect(State, since=0, timeout=BOUND)
        sent = await a.send(Start(request_id="go"))
        started = await a.expect(
            State, lambda s: s.state is Phase.STARTING, since=sent, timeout=BOUND
        )
        open_runs, _ = await page(a)
        await cluster.node("c")
        c = await cluster.client("c")
        await c.expect(State, since=0, timeout=BOUND)
        cluster.nodes["a"].signal(signal.SIGKILL)
        done = await c.expect(State, lambda s: s.state is Phase.SUCCESS, since=0, timeout=BOUND)
        runs, _ = await page(c)
        welcome = await welcome_of(cluster, "c")

    [opened] = open_runs
    assert (opened.calculation_id, opened.outcome, opened.ended_at) == (
        started.calculation_id,
        None,
        None,
    )
    [run] = runs
    assert (run.calculation_id, run.outcome) == (done.calculation_id, "SUCCESS")
    assert (run.started_by, run.started_at) == (opened.started_by, opened.started_at)
    assert run.ended_at is not None
    assert run.ended_at - run.started_at >= 3 * 1.5 - 0.1
    assert welcome.last_run == run
