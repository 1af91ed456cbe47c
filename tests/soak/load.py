"""Soak: churn and fan-out at larger sizes against a real ``calc-server`` process.

Not collected by pytest (no ``test_`` prefix); run by hand:

    .venv/bin/python -m tests.soak.load [--churners 10000] [--waves 20] [--fanout 2000]

The server runs in its own process (so it has a core of its own and its descriptors can be
counted in /proc/PID/fd); the clients share this process. Prints one FIGURES line per part
and exits 1 if anything was lost, duplicated, reordered or leaked.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
import time
from collections.abc import Sequence

import aiohttp

from protocol import Cancel, Phase, Start, State, Welcome
from tests.processes import ServerProcess
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


async def server_clients(server: ServerProcess) -> int:
    """The client count the server reports on /healthz."""
    url = server.url.replace("ws://", "http://").removesuffix("/ws") + "/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return int((await response.json())["clients"])


async def settle(server: ServerProcess, fds: int, timeout: float = 30.0) -> tuple[int, int]:
    """Wait until the server reports 0 clients and has ``fds`` descriptors open."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        clients, now = await server_clients(server), open_fds(server.proc.pid)
        if (clients == 0 and now == fds) or loop.time() > deadline:
            return clients, now
        await asyncio.sleep(0.1)


async def churn(server: ServerProcess, churners: int, waves: int, stayers: int) -> bool:
    """Clients connect, get their snapshot and leave, in waves, while calculations run."""
    fds_before = open_fds(server.proc.pid)
    began = time.perf_counter()
    stop = asyncio.Event()
    driver = await RawClient.open(server.url)
    calculations = 0

    async def keep_calculating() -> None:
        nonlocal calculations
        await driver.expect(Welcome, since=0)
        while not stop.is_set():
            sent = await driver.send(Start(request_id=f"go{calculations}"))
            assert (await driver.ack(f"go{calculations}", since=sent)).accepted
            calculations += 1
            await driver.expect(State, lambda s: s.state.terminal, since=sent, timeout=30)

    async with new_session() as session:
        stay = await open_many(session, server.url, stayers)
        task = asyncio.create_task(keep_calculating())
        churned: list[Watcher] = []
        bad_first = 0
        for _ in range(waves):
            wave = await open_many(session, server.url, churners // waves)
            bad_first += sum(w.first != ["Welcome", "State"] for w in wave)
            churned.extend(wave)
            await close_all(wave)
            for w in wave:  # keep only what the checks need
                w.states = w.states[:1]
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        await driver.close()
        last = stay[0].states[-1].seq
        await asyncio.gather(*(w.until_seq(last) for w in stay))
        await close_all(stay)
    elapsed = time.perf_counter() - began
    clients, fds_after = await settle(server, fds_before)
    history = stay[0].pairs()
    seen = dict(history)
    wrong_snapshot = sum(
        1 for w in churned if w.states[0].seq and seen.get(w.states[0].seq) is not w.states[0].state
    )
    ok = (
        contiguous(history)
        and all(w.pairs() == history for w in stay)
        and not bad_first
        and not wrong_snapshot
        and clients == 0
        and fds_after == fds_before
    )
    print(
        f"FIGURES soak churn: churners={len(churned)} in {waves} waves, stayers={stayers}, "
        f"calculations={calculations}, states per stayer={len(history)}, "
        f"stayers with another sequence={sum(w.pairs() != history for w in stay)}, "
        f"gaps={0 if contiguous(history) else 'SOME'}, welcome-first failures={bad_first}, "
        f"wrong snapshots={wrong_snapshot}, server clients after={clients}, "
        f"server fds before={fds_before} after={fds_after}, time={elapsed:.1f}s",
        flush=True,
    )
    return ok


async def fanout(server: ServerProcess, clients: int, calculations: int) -> bool:
    """``clients`` through ``calculations`` calculations (every other one canceled)."""
    began = time.perf_counter()
    driver = await RawClient.open(server.url)
    await driver.expect(Welcome, since=0)
    if (await driver.expect(State, since=0)).state.running:  # the churn's last calculation
        await driver.expect(State, lambda s: s.state.terminal, since=0, timeout=30)
    async with new_session() as session:
        watchers = await open_many(session, server.url, clients)
        connected = time.perf_counter()
        for n in range(calculations):
            sent = await driver.send(Start(request_id=f"s{n}"))
            assert (await driver.ack(f"s{n}", since=sent)).accepted
            if n % 2:
                stage = Phase.IN_PROGRESS if n % 4 == 1 else Phase.STARTING
                await driver.expect(State, lambda s, p=stage: s.state is p, since=sent, timeout=30)
                asked = await driver.send(Cancel(request_id=f"c{n}"))
                await driver.ack(f"c{n}", since=asked)
            final = await driver.expect(State, lambda s: s.state.terminal, since=sent, timeout=60)
            await asyncio.gather(*(w.until_seq(final.seq, timeout=60) for w in watchers))
        finished = time.perf_counter()
        await close_all(watchers)
    await driver.close()
    history = [(s.seq, s.state) for s in driver.states() if s.seq > 0]
    differing = sum(1 for w in watchers if [p for p in w.pairs() if p[0] > 0] != history)
    received = sum(len(w.states) for w in watchers)
    gaps = sum(b[0] - a[0] - 1 for a, b in itertools.pairwise(history))
    ok = contiguous(history) and differing == 0
    print(
        f"FIGURES soak fanout: clients={clients} calculations={calculations} "
        f"changes={len(history)} ({[s.value for _, s in history].count('CANCELED')} canceled), "
        f"state messages received={received}, clients with another sequence={differing}, "
        f"gaps={gaps}, "
        f"connect={connected - began:.1f}s run={finished - connected:.1f}s",
        flush=True,
    )
    return ok


async def run(args: argparse.Namespace) -> bool:
    raise_fd_limit(2 * max(args.churners // args.waves, args.fanout) + 4096)
    server = await ServerProcess.start("--stage-seconds", str(args.stage_seconds))
    try:
        churned = await churn(server, args.churners, args.waves, args.stayers)
        fanned = await fanout(server, args.fanout, args.calculations)
    finally:
        server.signal(signal.SIGTERM)
        await server.wait(timeout=10)
    return churned and fanned


def main(argv: Sequence[str] | None = None) -> int:
    """Run both parts; exit 0 when nothing was lost or leaked."""
    parser = argparse.ArgumentParser(prog="python -m tests.soak.load", description=__doc__)
    parser.add_argument("--churners", type=int, default=10_000)
    parser.add_argument("--waves", type=int, default=20)
    parser.add_argument("--stayers", type=int, default=20)
    parser.add_argument("--fanout", type=int, default=2_000)
    parser.add_argument("--calculations", type=int, default=5)
    parser.add_argument("--stage-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
