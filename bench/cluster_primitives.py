"""``python -m bench.cluster_primitives``: the Redis coordination primitives on loopback.

Not part of ``make bench`` (the cluster has no server yet). Starts its own redis-server (the
tests' helper) unless ``REDIS_URL`` is set, and prints: one ``transition`` round trip (sequential
compare-and-set + store + publish), a plain PING for reference, and the time from a transition
call to the subscriber's ``on_change`` for every change of small bursts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.stats import fmt, percentile
from calc_server.cluster.epoch import ensure_epoch
from calc_server.cluster.keys import Keys
from calc_server.cluster.record import StateRecord
from calc_server.cluster.state import Change, SharedState
from calc_server.cluster.subscriber import Subscriber
from calc_server.cluster.url import open_client
from tests.cluster.frames import state_frame
from tests.redis_server import RedisServer


def _line(name: str, samples: list[float]) -> str:
    us = [s * 1e6 for s in samples]
    return (
        f"{name:<34} n={len(us):>5}  p50 {fmt(percentile(us, 50))} µs"
        f"  p99 {fmt(percentile(us, 99))} µs  max {fmt(max(us))} µs"
    )


async def measure(url: str, rounds: int, bursts: int, burst: int) -> None:
    """Print the three figures for the Redis at ``url``."""
    keys = Keys(prefix=f"calc-bench-{os.getpid()}:")
    client = open_client(url)
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    seq = 0
    assert (await state.transition(Change(epoch, None, seq, state_frame(epoch, seq)))).applied

    pings: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        await client.ping()
        pings.append(time.perf_counter() - start)

    transitions: list[float] = []
    for _ in range(rounds):
        frame = state_frame(epoch, seq + 1)
        start = time.perf_counter()
        outcome = await state.transition(Change(epoch, seq, seq + 1, frame))
        transitions.append(time.perf_counter() - start)
        assert outcome.applied
        seq += 1

    sent: dict[int, float] = {}
    delays: list[float] = []
    done = asyncio.Event()
    last_seq = seq + bursts * burst

    def changed(record: StateRecord) -> None:
        if record.seq in sent:
            delays.append(time.perf_counter() - sent[record.seq])
        if record.seq == last_seq:
            done.set()

    linked = asyncio.Event()
    subscriber = Subscriber(
        url, keys, state, on_change=changed, on_link=lambda up: linked.set() if up else None
    )
    task = asyncio.create_task(subscriber.run())
    await linked.wait()
    for _ in range(bursts):
        changes = []
        for _ in range(burst):
            changes.append(Change(epoch, seq, seq + 1, state_frame(epoch, seq + 1)))
            seq += 1
        for change in changes:  # back to back, each awaited: one node deciding quickly
            sent[change.seq] = time.perf_counter()
            assert (await state.transition(change)).applied
        await asyncio.sleep(0.01)
    await asyncio.wait_for(done.wait(), 30)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    print(_line("PING round trip", pings))
    print(_line("transition round trip", transitions))
    print(_line(f"transition -> on_change ({burst}/burst)", delays))
    stale = [key async for key in client.scan_iter(match=f"{keys.prefix}*")]
    if stale:
        await client.delete(*stale)
    await client.aclose()


def main() -> None:
    """Run against ``REDIS_URL`` or a private redis-server."""
    p = argparse.ArgumentParser(prog="python -m bench.cluster_primitives", description=__doc__)
    p.add_argument("--rounds", type=int, default=2000, help="sequential transitions and PINGs")
    p.add_argument("--bursts", type=int, default=100)
    p.add_argument("--burst", type=int, default=10, help="changes per burst")
    args = p.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(measure(url, args.rounds, args.bursts, args.burst))
        return
    with tempfile.TemporaryDirectory(prefix="calc-bench-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            asyncio.run(measure(server.url, args.rounds, args.bursts, args.burst))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
