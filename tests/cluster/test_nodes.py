"""Three real calc-server nodes on one Redis are one calculation: same epoch, same seqs, same
acks, whichever node a client uses."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import pytest

from protocol import Ack, AckReason, Cancel, Phase, Presence, Start, State, Welcome
from tests.cluster.nodes import Cluster, cluster_of
from tests.processes import ServerProcess
from tests.redis_server import RedisServer
from tests.wsclient import RawClient

BOUND = 30.0
"""Seconds to wait for what must happen (generous: a busy machine)."""

NODES = ("a", "b", "c")


def history(client: RawClient) -> list[tuple[int, Phase, str | None]]:
    """What a client saw: (seq, state, calculation id), in arrival order."""
    return [(s.seq, s.state, s.calculation_id) for s in client.states()]


def contiguous(seqs: list[int]) -> bool:
    """Each seq one above the one before: nothing missed, repeated or reordered."""
    return all(b == a + 1 for a, b in itertools.pairwise(seqs))


async def sees(client: RawClient, seq: int) -> None:
    """Until ``client`` has received the state with ``seq`` (already received or still to come)."""
    await client.expect(State, lambda s: s.seq >= seq, since=0, timeout=BOUND)


async def three_nodes_with_clients(cluster: Cluster, per_node: int) -> dict[str, list[RawClient]]:
    """Start nodes a, b, c and ``per_node`` clients on each, every one greeted."""
    await asyncio.gather(*(cluster.node(name) for name in NODES))
    clients = {name: [await cluster.client(name) for _ in range(per_node)] for name in NODES}
    for client in itertools.chain.from_iterable(clients.values()):
        await client.expect(Welcome, since=0, timeout=BOUND)
        await client.expect(State, since=0, timeout=BOUND)
    return clients


async def test_three_nodes_show_identical_seqs_for_a_full_run_and_one_started_on_a_canceled_on_c(
    redis_url: str,
) -> None:
    async with cluster_of(redis_url, stage_seconds=0.6) as cluster:
        clients = await three_nodes_with_clients(cluster, per_node=2)
        everyone = list(itertools.chain.from_iterable(clients.values()))
        welcomes = [next(m for m in c.messages if isinstance(m, Welcome)) for c in everyone]
        a, c = clients["a"][0], clients["c"][0]

        sent = await a.send(Start(request_id="full"))
        started = await a.ack("full", since=sent, timeout=BOUND)
        assert started.accepted
        success = await a.expect(
            State, lambda s: s.state is Phase.SUCCESS, since=sent, timeout=BOUND
        )
        for client in everyone:
            await sees(client, success.seq)

        watched = c.mark()
        sent = await a.send(Start(request_id="second"))
        second = await a.ack("second", since=sent, timeout=BOUND)
        assert second.accepted
        run = (await a.expect(State, lambda s: s.seq == second.seq, since=sent)).calculation_id
        await c.expect(
            State,
            lambda s: s.calculation_id == run and s.state is Phase.IN_PROGRESS,
            since=watched,
            timeout=BOUND,
        )
        sent = await c.send(Cancel(request_id="stop"))
        stopped = await c.ack("stop", since=sent, timeout=BOUND)
        assert stopped.accepted
        canceled = await c.expect(
            State, lambda s: s.state is Phase.CANCELED, since=sent, timeout=BOUND
        )
        assert canceled.seq == stopped.seq  # the ack names the state it caused
        for client in everyone:
            await sees(client, canceled.seq)

    seen = history(a)
    assert contiguous([seq for seq, _, _ in seen])
    assert [phase for _, phase, _ in seen] == [
        Phase.IDLE,
        *(Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS),
        *(Phase.STARTING, Phase.IN_PROGRESS, Phase.CANCELED),
    ]
    assert all(history(client) == seen for client in everyone)
    assert canceled.ended_by is not None
    assert canceled.ended_by.startswith("c/")
    assert len({w.epoch for w in welcomes}) == 1
    assert {w.node for w in welcomes} == set(NODES)
    assert all("cluster" in w.features for w in welcomes)


async def test_every_node_counts_the_whole_cluster(redis_url: str) -> None:
    async with cluster_of(redis_url, stage_seconds=1.0) as cluster:
        clients = await three_nodes_with_clients(cluster, per_node=2)
        first = list(itertools.chain.from_iterable(clients.values()))
        marks = [client.mark() for client in first]  # seven clients only from here on
        extra = await cluster.client("b")
        everyone = [*first, extra]
        for client, mark in zip(everyone, [*marks, 0], strict=True):
            await client.expect(Presence, lambda p: p.clients == 7, since=mark, timeout=BOUND)


async def test_twenty_clients_racing_start_across_nodes_start_one_run(redis_url: str) -> None:
    async with cluster_of(redis_url, stage_seconds=5.0) as cluster:
        await asyncio.gather(*(cluster.node(name) for name in NODES))
        racers = [await cluster.client(NODES[i % 3]) for i in range(20)]
        for racer in racers:
            await racer.expect(State, since=0, timeout=BOUND)
        sent = await asyncio.gather(
            *(r.send(Start(request_id=f"race{i}")) for i, r in enumerate(racers))
        )
        acks = [
            await r.ack(f"race{i}", since=mark, timeout=BOUND)
            for i, (r, mark) in enumerate(zip(racers, sent, strict=True))
        ]
        started = await racers[0].expect(
            State, lambda s: s.state is Phase.STARTING, since=sent[0], timeout=BOUND
        )
        # every client has seen the run start before any ack arrives, and nothing else starts
        for racer in racers:
            await sees(racer, started.seq)
        runs = {s.calculation_id for r in racers for s in r.states() if s.state.running}

    assert [a.accepted for a in acks].count(True) == 1
    refused = [a for a in acks if not a.accepted]
    assert all(a.reason == AckReason.ALREADY_RUNNING for a in refused)
    assert all(a.seq == started.seq for a in acks)
    assert runs == {started.calculation_id}


async def test_acks_and_reasons_are_the_same_from_every_node(redis_url: str) -> None:
    async with cluster_of(redis_url, stage_seconds=5.0) as cluster:
        await asyncio.gather(*(cluster.node(name) for name in NODES))
        a, b, c = [await cluster.client(name) for name in NODES]
        for client in (a, b, c):
            await client.expect(State, since=0, timeout=BOUND)
        sent = await b.send(Cancel(request_id="nothing"))
        nothing = await b.ack("nothing", since=sent, timeout=BOUND)
        sent = await a.send(Start(request_id="go"))
        go = await a.ack("go", since=sent, timeout=BOUND)
        sent = await c.send(Start(request_id="again"))
        again = await c.ack("again", since=sent, timeout=BOUND)
        sent = await b.send(Cancel(request_id="old", calculation_id="not-this-one"))
        old = await b.ack("old", since=sent, timeout=BOUND)
        sent = await c.send(Cancel(request_id="stop"))
        stop = await c.ack("stop", since=sent, timeout=BOUND)

    assert (nothing.accepted, nothing.reason, nothing.seq) == (False, AckReason.NOT_RUNNING, 0)
    assert (go.accepted, go.seq) == (True, 1)
    assert (again.accepted, again.reason, again.seq) == (False, AckReason.ALREADY_RUNNING, 1)
    assert (old.accepted, old.reason) == (False, AckReason.STALE_CALCULATION)
    assert (stop.accepted, stop.seq) == (True, 2)
    assert isinstance(stop, Ack)


async def test_a_password_in_the_redis_url_works_and_never_reaches_the_log(
    redis_factory: Callable[..., RedisServer],
) -> None:
    password = "s3cret-" + "x" * 12
    redis = redis_factory(password=password)
    async with cluster_of(redis.url, stage_seconds=0.5) as cluster:
        node = await cluster.node("a", "--log-level", "DEBUG")
        client = await cluster.client("a")
        sent = await client.send(Start(request_id="go"))
        assert (await client.ack("go", since=sent, timeout=BOUND)).accepted
        await client.expect(State, lambda s: s.state is Phase.SUCCESS, since=sent, timeout=BOUND)
    wrong = redis.url.replace(password, "not-the-" + password)
    with pytest.raises(RuntimeError) as refused:
        await ServerProcess.start("--redis", wrong, auth="t", ready_timeout=BOUND)

    log = "".join(node.log)
    assert "redis://***@127.0.0.1" in log
    assert password not in log
    assert "cannot reach Redis at redis://***@127.0.0.1" in str(refused.value)
    assert password not in str(refused.value)
