"""A real job in a cluster: it runs on the node that accepted ``start``, every node's clients
see its progress and output, a cancel from any node stops it, and the loss of its node ends
the run FAILED without running the command again."""

from __future__ import annotations

import asyncio
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from protocol import (
    AckReason,
    Cancel,
    ClusterStatus,
    History,
    HistoryQuery,
    Output,
    Phase,
    Start,
    State,
)
from tests.cluster.nodes import Cluster, cluster_of
from tests.cluster.test_nodes import BOUND
from tests.cluster.waiting import poll
from tests.jobs.recorder import group_gone
from tests.redis_server import RedisServer
from tests.wsclient import RawClient

JOB = shlex.join([sys.executable, str(Path(__file__).with_name("chatty_job.py"))])


async def job_nodes(cluster: Cluster, *names: str, job: str = JOB) -> dict[str, RawClient]:
    """Start the nodes, every one with the same ``--job``, and one greeted client on each."""
    await asyncio.gather(*(cluster.node(name, "--job", job) for name in names))
    clients = {name: await cluster.client(name) for name in names}
    for client in clients.values():
        await client.expect(State, since=0, timeout=BOUND)
    return clients


async def job_group(client: RawClient, since: int) -> int:
    """The job's process group, from its first line, once ``client`` saw it say "ready"."""
    await client.expect(
        Output, lambda o: any(line.text == "ready" for line in o.lines), since=since, timeout=BOUND
    )
    first = next(m for m in client.messages[since:] if isinstance(m, Output))
    assert first.offset == 0
    return int(first.lines[0].text)


async def job_started_on_a(cluster: Cluster) -> tuple[RawClient, int, int]:
    """Nodes a and b with the job; a run started through a, seen running from b: b's client,
    the mark taken on b before the start, and the job's process group."""
    clients = await job_nodes(cluster, "a", "b")
    a, b = clients["a"], clients["b"]
    watched = b.mark()
    sent = await a.send(Start(request_id="go"))
    assert (await a.ack("go", since=sent, timeout=BOUND)).accepted
    return b, watched, await job_group(b, watched)


async def test_a_job_started_on_a_shows_on_c_and_a_cancel_from_c_stops_it_on_a(
    redis_url: str,
) -> None:
    async with cluster_of(redis_url, stage_seconds=1.0) as cluster:
        clients = await job_nodes(cluster, "a", "b", "c")
        a, c = clients["a"], clients["c"]
        watched = c.mark()
        sent = await a.send(Start(request_id="go"))
        assert (await a.ack("go", since=sent, timeout=BOUND)).accepted
        group = await job_group(c, watched)
        reported = await c.expect(
            State, lambda s: s.message == "half way", since=watched, timeout=BOUND
        )
        more = await c.expect(
            Output, lambda o: any(line.text == "line 3" for line in o.lines), since=watched
        )
        alive_before_cancel = not group_gone(group)

        sent = await c.send(Cancel(request_id="stop"))
        stop = await c.ack("stop", since=sent, timeout=BOUND)
        canceled = await c.expect(
            State, lambda s: s.state is Phase.CANCELED, since=watched, timeout=BOUND
        )
        await poll(lambda: group_gone(group))
        b = clients["b"]
        sent = await b.send(HistoryQuery(request_id="h"))
        history = await b.expect(History, since=sent, timeout=BOUND)
        sent = await b.send(HistoryQuery(request_id="one", calculation_id=canceled.calculation_id))
        whole = await b.expect(History, since=sent, timeout=BOUND)

    assert alive_before_cancel
    assert reported.state is Phase.IN_PROGRESS
    assert reported.stage_duration == 0
    assert more.calculation_id == reported.calculation_id
    assert stop.accepted
    seen = [s for s in c.states() if s.calculation_id == canceled.calculation_id]
    assert any(s.canceling for s in seen), "the cancel was under way before the job ended"
    assert canceled.ended_by is not None
    assert canceled.ended_by.startswith("c/")
    [run] = history.runs
    assert (run.calculation_id, run.outcome) == (canceled.calculation_id, "CANCELED")
    assert (run.ended_by, run.command) == (canceled.ended_by, JOB)
    assert run.exit_code == canceled.exit_code == -signal.SIGTERM
    # the node that ran the job recorded its last lines with the run
    [kept] = whole.runs
    assert kept.output_tail
    assert kept.output_tail[-1].text.startswith("line ")


@pytest.mark.timeout(120)
async def test_sigkill_of_the_jobs_node_ends_the_run_failed_as_lost_and_runs_nothing_again(
    redis_url: str,
) -> None:
    lease = 1.0
    async with cluster_of(redis_url, stage_seconds=1.0, lease_seconds=lease) as cluster:
        b, watched, group = await job_started_on_a(cluster)
        cluster.nodes["a"].signal(signal.SIGKILL)
        killed_at = asyncio.get_running_loop().time()
        failed = await b.expect(
            State, lambda s: s.state is Phase.FAILED, since=watched, timeout=lease + BOUND
        )
        noticed = b.received_at[b.messages.index(failed)] - killed_at
        await poll(lambda: group_gone(group))  # the job went with its node
        sent = await b.send(HistoryQuery(request_id="h"))
        history = await b.expect(History, since=sent, timeout=BOUND)
        again = [s for s in b.states()[1:] if s.state is Phase.STARTING]

    assert failed.ended_by == "node a was lost"
    assert noticed <= lease + BOUND
    print(f"job's node lost to FAILED seen on b: {noticed:.2f}s (lease {lease}s)")
    assert len(again) == 1, "the command was not started again"
    assert [(r.calculation_id, r.outcome, r.ended_by) for r in history.runs] == [
        (failed.calculation_id, "FAILED", "node a was lost")
    ]


async def test_stopping_the_jobs_node_cancels_the_job_for_every_node(redis_url: str) -> None:
    async with cluster_of(redis_url, stage_seconds=1.0) as cluster:
        b, watched, group = await job_started_on_a(cluster)
        cluster.nodes["a"].signal(signal.SIGTERM)
        canceled = await b.expect(
            State, lambda s: not s.state.running and s.seq > 1, since=watched, timeout=BOUND
        )
        code = await cluster.nodes["a"].wait(timeout=BOUND)
        await poll(lambda: group_gone(group))

    assert (canceled.state, canceled.ended_by) == (Phase.CANCELED, "server shutdown")
    assert code == 0


@pytest.mark.timeout(120)
async def test_a_jobs_node_paused_past_its_lease_changes_nothing_and_stops_its_job(
    redis_url: str,
) -> None:
    lease = 1.0
    async with cluster_of(redis_url, stage_seconds=1.0, lease_seconds=lease) as cluster:
        b, watched, group = await job_started_on_a(cluster)
        owner = cluster.nodes["a"]
        owner.signal(signal.SIGSTOP)
        try:
            failed = await b.expect(
                State, lambda s: s.state is Phase.FAILED, since=watched, timeout=lease + BOUND
            )
            alive_while_paused = not group_gone(group)
        finally:
            owner.signal(signal.SIGCONT)
        # woken, it sees the run ended without it and stops its job; its own writes are refused
        await poll(lambda: group_gone(group))
        await poll(lambda: any("ended without its job" in line for line in owner.log))
        stored = await cluster.stored()

    assert failed.ended_by == "node a was lost"
    assert alive_while_paused, "the job was on the paused node, untouched by the others"
    assert stored is not None
    assert stored.seq == failed.seq
    assert b.states()[-1].seq == failed.seq


@pytest.mark.timeout(120)
async def test_a_job_outlives_a_redis_outage_and_its_end_meanwhile_is_shown_when_redis_is_back(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    redis = redis_factory()
    finish = tmp_path / "finish"
    job = shlex.join([*shlex.split(JOB), "--until", str(finish)])
    # a lease longer than the outage: the run stays node a's (an outage past the lease ends it
    # as lost, like a frozen owner, see test_a_jobs_node_paused_past_its_lease...)
    async with cluster_of(redis.url, stage_seconds=1.0, lease_seconds=300.0) as cluster:
        clients = await job_nodes(cluster, "a", "b", job=job)
        a, b = clients["a"], clients["b"]
        watched = [client.mark() for client in (a, b)]
        sent = await a.send(Start(request_id="go"))
        assert (await a.ack("go", since=sent, timeout=BOUND)).accepted
        group = await job_group(b, watched[1])
        running = await b.expect(
            State, lambda s: s.message == "half way", since=watched[1], timeout=BOUND
        )
        await a.expect(State, lambda s: s.seq == running.seq, since=watched[0], timeout=BOUND)

        marks = [client.mark() for client in (a, b)]
        redis.pause()  # SIGSTOP: nothing answers, the data is kept
        try:
            for client, mark in zip((a, b), marks, strict=True):
                await client.expect(ClusterStatus, lambda m: m.degraded, since=mark, timeout=BOUND)
            sent = await b.send(Cancel(request_id="stop"))
            refused = await b.ack("stop", since=sent, timeout=BOUND)
            alive_while_down = not group_gone(group)
            finish.touch()  # the job ends while Redis is away
            await poll(lambda: group_gone(group))
            shown_while_down = [client.states()[-1].seq for client in (a, b)]
        finally:
            marks = [client.mark() for client in (a, b)]
            redis.resume()
        ends = [
            await client.expect(State, lambda s: not s.state.running, since=mark, timeout=BOUND)
            for client, mark in zip((a, b), marks, strict=True)
        ]
        stayed = not a.closed.is_set() and not b.closed.is_set()

    assert (refused.accepted, refused.reason) == (False, AckReason.BACKPLANE_UNAVAILABLE)
    assert alive_while_down, "the job kept running on node a while Redis was away"
    assert shown_while_down == [running.seq, running.seq], "the last state stayed shown"
    assert stayed
    # the end the job reached meanwhile, committed once Redis was back: the same on both nodes
    assert ends[0] == ends[1]
    end = ends[0]
    assert (end.state, end.exit_code) == (Phase.SUCCESS, 0)
    assert end.calculation_id == running.calculation_id
    assert end.epoch == running.epoch
    for client in (a, b):
        run = [s.seq for s in client.states() if s.calculation_id == end.calculation_id]
        assert run == list(range(run[0], end.seq + 1)), "every change once, in order"
