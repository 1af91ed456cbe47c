"""``calc-server --workers 2``: two server processes share one port and one calculation."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from calc_server.cluster.mirror import state_of
from protocol import Cancel, Output, Phase, Start, State, Welcome
from tests.cluster.nodes import Cluster, cluster_of
from tests.cluster.test_jobs import JOB, job_group
from tests.cluster.test_nodes import BOUND, sees
from tests.cluster.waiting import poll
from tests.jobs.recorder import group_gone
from tests.jobs.test_server_killed import dead
from tests.processes import refused
from tests.wsclient import RawClient

CLIENTS = 24
"""Enough connections that the kernel hands some to each worker (all to one: 2^-23)."""


async def greeted(cluster: Cluster, count: int) -> tuple[list[RawClient], list[Welcome]]:
    """``count`` clients of node "w", each with its welcome and first state received."""
    clients = [await cluster.client("w") for _ in range(count)]
    welcomes = [await c.expect(Welcome, since=0, timeout=BOUND) for c in clients]
    for client in clients:
        await client.expect(State, since=0, timeout=BOUND)
    return clients, welcomes


async def test_two_workers_serve_one_port_as_one_calculation(redis_url: str) -> None:
    async with cluster_of(redis_url, stage_seconds=0.5) as cluster:
        parent = await cluster.node("w", "--workers", "2")
        await poll(lambda: _listening(parent.log, 2))
        ports = {
            int(m) for m in re.findall(r"listening on ws://[^:]+:(\d+)/ws", "".join(parent.log))
        }
        clients, welcomes = await greeted(cluster, CLIENTS)
        sent = await clients[0].send(Start(request_id="go"))
        assert (await clients[0].ack("go", since=sent, timeout=BOUND)).accepted
        done = await clients[0].expect(
            State, lambda s: s.state is Phase.SUCCESS, since=sent, timeout=BOUND
        )
        for client in clients:
            await sees(client, done.seq)
        parent.signal(signal.SIGTERM)
        code = await parent.wait(timeout=BOUND)

    assert ports == {parent.port}
    assert {w.node for w in welcomes} == {"w-1", "w-2"}
    assert len({w.epoch for w in welcomes}) == 1
    seen = [[(s.seq, s.state) for s in c.states()] for c in clients]
    assert all(history == seen[0] for history in seen)
    assert code == 0


async def test_two_workers_with_a_job_run_it_once_and_a_client_of_the_other_cancels_it(
    redis_url: str,
) -> None:
    async with cluster_of(redis_url, stage_seconds=1.0) as cluster:
        parent = await cluster.node("w", "--workers", "2", "--job", JOB)
        await poll(lambda: _listening(parent.log, 2))
        clients, welcomes = await greeted(cluster, CLIENTS)
        starter = clients[0]
        other, there = next(
            (c, w) for c, w in zip(clients, welcomes, strict=True) if w.node != welcomes[0].node
        )
        marks = [client.mark() for client in clients]
        sent = await starter.send(Start(request_id="go"))
        assert (await starter.ack("go", since=sent, timeout=BOUND)).accepted
        groups = [await job_group(c, m) for c, m in zip(clients, marks, strict=True)]
        alive = not group_gone(groups[0])
        sent = await other.send(Cancel(request_id="stop"))
        stop = await other.ack("stop", since=sent, timeout=BOUND)
        ends = [
            await c.expect(State, lambda s: not s.state.running, since=m, timeout=BOUND)
            for c, m in zip(clients, marks, strict=True)
        ]
        await poll(lambda: group_gone(groups[0]))
        firsts = [
            next(m for m in c.messages[k:] if isinstance(m, Output))
            for c, k in zip(clients, marks, strict=True)
        ]
        code = await parent.shut_down(timeout=BOUND)  # its log is whole once it exits
        logged = "".join(parent.log)

    assert {w.node for w in welcomes} == {"w-1", "w-2"}
    assert len(set(groups)) == 1, "one job process group, shown to the clients of both workers"
    # the workers share the parent's log: a job's end is logged by the worker that ran it
    assert logged.count("job of calculation") == 1, "the job ran on one worker only"
    assert alive
    assert all(first.offset == 0 for first in firsts)
    assert stop.accepted
    assert all(end == ends[0] for end in ends)
    assert ends[0].state is Phase.CANCELED
    assert ends[0].ended_by is not None
    assert ends[0].ended_by.startswith(f"{there.node}/"), "canceled by the other worker's client"
    assert code == 0


async def test_workers_whose_parent_is_killed_shut_down_and_cancel_the_job(redis_url: str) -> None:
    workers: list[int] = []
    try:
        async with cluster_of(redis_url, stage_seconds=1.0) as cluster:
            parent = await cluster.node("w", "--workers", "2", "--job", JOB)
            await poll(lambda: _listening(parent.log, 2))
            workers = _children(parent.proc.pid)
            [client], _ = await greeted(cluster, 1)
            mark = client.mark()
            sent = await client.send(Start(request_id="go"))
            assert (await client.ack("go", since=sent, timeout=BOUND)).accepted
            group = await job_group(client, mark)
            started = client.states()[-1]
            parent.signal(signal.SIGKILL)  # no chance to stop its workers
            for pid in workers:
                await poll(lambda pid=pid: dead(pid))
            await poll(lambda: group_gone(group))
            await parent.wait(timeout=BOUND)  # the log ends when the workers closed it
            logged = "".join(parent.log)
            # the client may be on the worker that went first (1001): Redis has the end
            stored = await cluster.stored()
    finally:
        for pid in workers:  # only if the test failed: nothing may outlive it
            if not dead(pid):
                os.kill(pid, signal.SIGKILL)

    assert stored is not None
    end = state_of(stored)
    assert len(workers) == 2
    assert (end.state, end.ended_by) == (Phase.CANCELED, "server shutdown")
    assert end.calculation_id == started.calculation_id
    assert logged.count("the --workers parent is gone: shutting down") == 2


async def test_a_parent_fd_that_is_not_open_is_refused_with_one_line_and_exit_2() -> None:
    # --parent-fd is internal (the parent passes its pipe); by hand it must fail plainly
    result = await refused("--no-auth", "--parent-fd", "99")  # never open in the child
    assert result.code == 2
    assert result.stderr.count("\n") == 1
    assert "--parent-fd 99: Bad file descriptor" in result.stderr


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux)."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _listening(log: list[str], count: int) -> bool:
    return sum("listening on" in line for line in log) >= count
