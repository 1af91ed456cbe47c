"""``python -m bench.cluster``: cluster mode's figures, on this machine, with a real Redis.

- cross-node delivery: N clients on node B, the change decided on node A (a command sent to A):
  command-to-last-client p50/p99, against the same N clients and driver on one single server,
  and against changes decided on B itself (the same path through Redis without A's share);
- ``--workers 2`` against one process: the same figure with M clients on one port (default
  10,000), and the send cost: the server processes' CPU time per client per state change
  (user + system, from /proc, over the rounds only, handshakes left out);
- failover: owner SIGKILLed just before a stage end, to the next state a client sees (target:
  lease time + 0.5 s).

``--only workers`` runs that comparison alone (the 10,000-client one is the long part: run it on
a quiet machine), ``--only cross`` the cross-node one. The load generator raises its open-files
limit to the hard limit (it holds one socket per client) and the servers are started with room
for every client plus the driver.

Starts its own redis-server (the tests' helper) unless ``REDIS_URL`` is set, and real
``calc-server`` processes on loopback. Everything runs on the same cores, load generator
included: the figures are what this machine gives, not a server's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import secrets
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import aiohttp

from bench.stats import fmt, percentile
from protocol import Cancel, Phase, Start, State
from tests.processes import ServerProcess
from tests.redis_server import RedisServer
from tests.reliability.swarm import Watcher, close_all, open_many, raise_fd_limit
from tests.wsclient import RawClient

LEASE = 3.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and of its children still running (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        return total
    return total + sum(cpu_seconds(int(child)) for child in children)


class Delivery(NamedTuple):
    """Command-to-last-client seconds, one per round, and the server CPU seconds they cost."""

    samples: list[float]
    cpu: float


class Audience:
    """One driver and ``clients`` watchers, on the same or on different servers."""

    def __init__(self, driver: RawClient, watchers: list[Watcher]) -> None:
        self.driver = driver
        self.watchers = watchers
        self.commands = 0

    async def change(self, driver: RawClient | None = None) -> float:
        """Send the next command (start, then cancel, ...) through ``driver`` (default: the
        audience's own): seconds to its last watcher."""
        driver = driver or self.driver
        n = self.commands
        self.commands += 1
        command = Start(request_id=f"s{n}") if n % 2 == 0 else Cancel(request_id=f"c{n}")
        # Each command makes exactly one change (stages last a minute). The wait for it is set
        # up before the command goes out: a thousand waits created while the frames arrive
        # would delay this process's reading, and by how much would depend on when the ack
        # comes (a cluster node acks before node B's fan-out ends, a single server after its
        # own), which is not what is measured.
        seq = self.watchers[0].states[-1].seq + 1
        arrived = asyncio.gather(*(w.until_seq(seq, timeout=60) for w in self.watchers))
        await asyncio.sleep(0.05)  # every wait registered, the loop idle again
        sent = asyncio.get_running_loop().time()
        await driver.send(command)
        ack = await driver.ack(command.request_id, timeout=30)
        assert ack.accepted, ack
        assert ack.seq == seq, (ack, seq)
        await arrived
        return max(_arrival(w, seq) for w in self.watchers) - sent


@contextlib.asynccontextmanager
async def _audience(
    driver_url: str, watch_url: str, clients: int, token: str
) -> AsyncIterator[Audience]:
    headers = {"Authorization": f"Bearer {token}"}
    driver = await RawClient.open_ready(driver_url, headers=headers)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    try:
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            watchers = await open_many(session, watch_url, clients, at_once=100)
            try:
                yield Audience(driver, watchers)
            finally:
                await close_all(watchers)
    finally:
        await driver.close()


async def _delivery(
    driver_url: str,
    watch_url: str,
    clients: int,
    rounds: int,
    token: str,
    servers: tuple[int, ...] = (),
) -> Delivery:
    """Seconds from sending each command to the last of ``clients`` receiving its state, and
    the CPU time processes ``servers`` (with their children) spent over those rounds."""
    async with _audience(driver_url, watch_url, clients, token) as audience:
        cpu_before = sum(cpu_seconds(pid) for pid in servers)
        samples = [await audience.change() for _ in range(rounds)]
        cpu = sum(cpu_seconds(pid) for pid in servers) - cpu_before
    return Delivery(samples, cpu)


def _arrival(watcher: Watcher, seq: int) -> float:
    for state, at in zip(watcher.states, watcher.received_at, strict=True):
        if state.seq >= seq:
            return at
    raise LookupError(seq)


async def _failover(redis_url: str, token: str, rounds: int) -> list[float]:
    """Seconds from SIGKILL of the run's owner to the next state a client on another node sees."""
    samples: list[float] = []
    loop = asyncio.get_running_loop()
    for n in range(rounds):
        prefix = ["--redis", redis_url, "--stage-seconds", "0.5", "--lease-seconds", str(LEASE)]
        auth = f"{token}-{n}"  # a fresh cluster each round
        owner = await ServerProcess.start(*prefix, "--node", "a", auth=auth, ready_timeout=60)
        other = await ServerProcess.start(*prefix, "--node", "b", auth=auth, ready_timeout=60)
        headers = {"Authorization": f"Bearer {auth}"}
        try:
            starter = await RawClient.open_ready(owner.url, headers=headers)
            watcher = await RawClient.open_ready(other.url, headers=headers)
            await starter.send(Start(request_id="go"))
            await watcher.expect(State, lambda s: s.state is Phase.STARTING, timeout=30)
            owner.signal(signal.SIGKILL)
            killed = loop.time()
            await watcher.expect(State, lambda s: s.state is Phase.IN_PROGRESS, timeout=30)
            samples.append(watcher.received_at[-1] - killed)
            await watcher.close()
            await starter.close()
        finally:
            await owner.stop()
            await other.stop()
    return samples


def _line(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    p50, p99 = fmt(percentile(ms, 50)), fmt(percentile(ms, 99))
    return f"{name:<44} n={len(ms):>3}  p50 {p50} ms  p99 {p99} ms"


def _cost(delivery: Delivery, clients: int) -> str:
    per = delivery.cpu / (len(delivery.samples) * clients) * 1e6
    return f"  send cost {per:.1f} us server CPU per client per change"


async def measure(
    redis_url: str, clients: int, worker_clients: int, rounds: int, only: str | None = None
) -> list[str]:
    """The report lines (``only``: ``"workers"`` or ``"cross"``, that comparison alone)."""
    token = secrets.token_urlsafe(16)
    lines: list[str] = []
    if only in (None, "cross"):
        lines += await _cross_node(redis_url, clients, rounds, token)
    if only in (None, "workers"):
        lines += await _workers(redis_url, worker_clients, rounds, token)
    if only is None:
        failover = await _failover(redis_url, token, 3)
        lines.append(_line(f"failover (SIGKILL owner -> next state), lease {LEASE:g} s", failover))
    return lines


async def _cross_node(redis_url: str, clients: int, rounds: int, token: str) -> list[str]:
    """Delivery to clients of node B of changes decided on node A, and on one single server.

    Also the same clients' figure for changes decided on B itself: the same path through
    Redis, without node A's share of the work. The audiences are open at once and take turns,
    one change each, in a rotating order, so a drift of the machine (another process waking, the
    CPU's clock) weighs on every figure alike; A and B take turns at starting and at canceling.
    """
    lines: list[str] = []
    cluster = ["--redis", redis_url, "--stage-seconds", "60"]
    single = await ServerProcess.start("--stage-seconds", "60", auth=token)
    a = await ServerProcess.start(*cluster, "--node", "a", auth=token, ready_timeout=60)
    b = await ServerProcess.start(*cluster, "--node", "b", auth=token, ready_timeout=60)
    one: list[float] = []
    cross: list[float] = []
    local: list[float] = []
    try:
        on_b = await RawClient.open_ready(b.url, headers={"Authorization": f"Bearer {token}"})
        try:
            async with (
                _audience(single.url, single.url, clients, token) as alone,
                _audience(a.url, b.url, clients, token) as across,
            ):
                for n in range(rounds):
                    # A and B take turns at starting; the single server goes first, second
                    # or last in turn: the leftovers of one change (a node's chores, the
                    # load generator's garbage) fall on each figure alike
                    pair: list[tuple[list[float], RawClient | None]]
                    pair = [(cross, None), (local, on_b)]
                    if n % 2:
                        pair.reverse()
                    for position, (figure, driver) in enumerate(pair):
                        if position == n % 3:
                            one.append(await alone.change())
                        figure.append(await across.change(driver))
                    if n % 3 == 2:
                        one.append(await alone.change())
        finally:
            await on_b.close()
        lines.append(_line(f"single server, {clients} clients", one))
        lines.append(_line(f"cluster, decided on A, {clients} clients on B", cross))
        lines.append(_line(f"cluster, decided on B, {clients} clients on B", local))
        limit = 1.2 * percentile(one, 50) + 0.001
        verdict = "within" if percentile(cross, 50) <= limit else "over"
        lines.append(f"  p50 target 1.2 x single + 1 ms = {limit * 1000:.1f} ms: {verdict}")
    finally:
        for process in (single, a, b):
            await process.stop()
    return lines


async def _workers(redis_url: str, clients: int, rounds: int, token: str) -> list[str]:
    """``--workers 2`` on one port against one process, both in cluster mode."""
    lines: list[str] = []
    # every client and the driver fit in one process (--max-connections defaults to 10,000)
    room = ["--max-connections", str(clients + 100)]
    common = ["--redis", redis_url, "--stage-seconds", "60", *room]
    workers_token = f"{token}-w"
    workers = await ServerProcess.start(
        *common, "--workers", "2", auth=workers_token, ready_timeout=60
    )
    alone = await ServerProcess.start(*common, auth=f"{token}-1", ready_timeout=60)
    try:
        one = await _delivery(
            alone.url, alone.url, clients, rounds, f"{token}-1", (alone.proc.pid,)
        )
        lines.append(_line(f"one process (cluster mode), {clients} clients", one.samples))
        lines.append(_cost(one, clients))
        two = await _delivery(
            workers.url, workers.url, clients, rounds, workers_token, (workers.proc.pid,)
        )
        lines.append(_line(f"--workers 2 on one port, {clients} clients", two.samples))
        lines.append(_cost(two, clients))
    finally:
        workers.signal(signal.SIGTERM)
        await workers.wait(timeout=30)
        await alone.stop()
    return lines


def report(
    clients: int = 1000, worker_clients: int = 10_000, rounds: int = 30, only: str | None = None
) -> str:
    """Run everything against ``REDIS_URL`` or a private redis-server; the figures as text."""
    # one socket per client here, up to the hard limit (see ``ulimit -Hn``)
    raise_fd_limit(2 * max(clients, worker_clients) + 512)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    wanted = max(clients, worker_clients) + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raise SystemExit(f"open files limit {soft} < {wanted}: raise it (ulimit -Hn) or use fewer")
    external = os.environ.get("REDIS_URL")
    if external:
        return "\n".join(asyncio.run(measure(external, clients, worker_clients, rounds, only)))
    with tempfile.TemporaryDirectory(prefix="calc-bench-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            lines = asyncio.run(measure(server.url, clients, worker_clients, rounds, only))
            return "\n".join(lines)
        finally:
            server.stop()


def main() -> None:
    """Parse the sizes and print the figures."""
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    p.add_argument("--clients", type=int, default=1000, help="clients on node B (default 1000)")
    p.add_argument(
        "--worker-clients",
        type=int,
        default=10_000,
        help="clients for --workers 2 against one process (default 10000)",
    )
    p.add_argument("--rounds", type=int, default=30, help="commands per figure (default 30)")
    p.add_argument(
        "--only",
        choices=["workers", "cross"],
        help="run the --workers 2 comparison, or the cross-node one, alone",
    )
    args = p.parse_args()
    print(report(args.clients, args.worker_clients, args.rounds, args.only))


if __name__ == "__main__":
    main()
