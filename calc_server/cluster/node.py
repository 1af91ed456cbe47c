"""Cluster mode's calculation service: the single server's surface, with the state in Redis.

A node decides each change with the pure Calculation, rebuilt from the stored record, and
commits it with the ``transition`` script (compare-and-set on seq; stage ends also carry the
lease's fencing token, see ``owner``). It never broadcasts what it decided: every node, this
one included, hands its clients the bytes its Subscriber receives, so each change reaches each
client once and in order. A command waits until its own change has come back before it
answers, so the client sees the state before the ack that names its seq, as from a single
server.

A real job runs on the node that accepted ``start`` (``job_run``); its output frames come back
to every node on a second channel and go to the clients as they are. The run history lives in
Redis (``runs``): each change that starts or ends a run carries its record into the same atomic
``transition``, so it is written once, by the node whose change won.

When Redis cannot be reached the node keeps its clients and the last state, tells them the
cluster is degraded (a ``cluster`` message), refuses commands with ``backplane_unavailable``
and follows Redis again when it returns. A Redis that comes back empty starts a new epoch: the
node closes its connections with 1012, and clients reconnect as after a server restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shlex
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiohttp import WSCloseCode
from redis.asyncio import Redis
from redis.exceptions import RedisError

from calc_server.calculation import SHUTDOWN, Calculation, Outcome
from calc_server.cluster.commit import commit
from calc_server.cluster.epoch import ensure_epoch
from calc_server.cluster.job_run import JobRunner
from calc_server.cluster.keys import Keys
from calc_server.cluster.lease import Grant, Lease
from calc_server.cluster.mirror import restore, state_of
from calc_server.cluster.owner import RunOwner
from calc_server.cluster.presence import PresenceBoard
from calc_server.cluster.record import StateRecord
from calc_server.cluster.replies import as_text
from calc_server.cluster.runs import SharedRuns
from calc_server.cluster.state import Change, RunEntry, SharedState, Verdict
from calc_server.cluster.subscriber import LINK_ERRORS, Subscriber
from calc_server.cluster.tasks import cancelled
from calc_server.cluster.url import open_client, redacted_url
from calc_server.config import Settings
from calc_server.history import OutputLine as HistoryLine
from calc_server.hub import Hub
from calc_server.jobs import Job
from calc_server.metrics import Metrics
from calc_server.output_feed import OutputFeed
from calc_server.service import END_WAIT, SHUTDOWN_GRACE
from calc_server.service_api import log_change
from protocol import AckReason, ClusterStatus, State, encode

log = logging.getLogger("calc_server.cluster")

STARTUP_TIMEOUT = 15.0
"""Seconds a node waits for Redis at start before giving up (generous: a busy machine)."""
REPLY_TIMEOUT = 2.0
"""Seconds a command waits for a Redis reply: a frozen Redis must not hang a client's ack."""
ACK_WAIT = 2.0
"""Seconds a command waits for its own change to come back before it answers anyway."""
COMMAND_TRIES = 10
"""Times a command is decided again after losing a compare-and-set to another node."""
LEASE_WAIT = 2.0
"""Seconds a job's start waits for the lease a run that just ended still holds."""
PRESENCE_INTERVAL = 0.5
"""Seconds between reports of this node's client count (and reads of the total)."""
RETRY_DELAY = 0.05
RETRY_CAP = 2.0

_DEGRADED = encode(ClusterStatus(degraded=True))
_HEALTHY = encode(ClusterStatus(degraded=False))


class ClusterUnavailable(RuntimeError):
    """Redis could not be reached when the node started (the message names it, redacted)."""


def default_node_name() -> str:
    """This host's name and this process's id: unique on a machine, readable in logs."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:40] or "node"
    return f"{host}-{os.getpid()}"


def cluster_keys(token: str) -> Keys:
    """The key prefix of the cluster sharing ``token``: one Redis may hold several clusters.

    A digest, not the token: whoever reads Redis's keys learns nothing to connect with.
    """
    digest = hashlib.sha256(b"calc-cluster\0" + token.encode()).hexdigest()[:16]
    return Keys(prefix=f"calc:{digest}:")


async def ensure_record(client: Redis, keys: Keys, stage_seconds: float) -> str:
    """The dataset's epoch, creating it and its IDLE record (seq 0) when Redis has none."""
    epoch = await ensure_epoch(client, keys)
    store = SharedState(client, keys)
    if await store.read() is None:
        now = time.time()
        idle = Calculation(epoch=epoch, stage_duration=stage_seconds).snapshot(now)
        await store.transition(Change(epoch, None, 0, encode(idle), at=now))  # one node wins
    return epoch


class ClusterService:
    """The calculation as this node sees and changes it; see the module docstring.

    Built by ``open``, which returns once the node follows the stored state; ``close`` stops
    it and hands a run this node drives to another node at once.
    """

    def __init__(
        self,
        *,
        url: str,
        keys: Keys,
        node: str,
        settings: Settings,
        hub: Hub,
        metrics: Metrics,
        client: Redis,
        epoch: str,
        job: Job,
    ) -> None:
        self.node = node
        self._url = url
        self._keys = keys
        self._hub = hub
        self._metrics = metrics
        self._client = client
        self.output = OutputFeed(hub, metrics)
        """The job's lines as every node gets them from Redis (``forward``), for the clients."""
        self._stage_seconds = settings.stage_seconds
        self._timed = job.timed
        self._job_command = None if settings.job is None else shlex.join(settings.job)
        self._grace = settings.job_grace
        self._store = SharedState(client, keys, history_keep=settings.history_keep)
        self.history = SharedRuns(client, keys)
        """The cluster's run history, as the connections read it."""
        self._lease = Lease(client, keys, node=node, ttl=settings.lease_seconds)
        self._board = PresenceBoard(client, keys)
        self._runner = JobRunner(
            job,
            store=self._store,
            client=client,
            keys=keys,
            hub=hub,
            metrics=metrics,
            entries=self._entries,
            grace=settings.job_grace,
            stage_seconds=settings.stage_seconds,
        )
        self._subscriber = Subscriber(
            url,
            keys,
            self._store,
            on_change=self._delivered,
            on_link=self._link_changed,
            on_output=self.output.forward,
        )
        self._owner = RunOwner(
            self._store,
            self._lease,
            running=lambda: self._state.state.running,
            stage_seconds=settings.stage_seconds,
            poll=min(0.5, settings.lease_seconds / 4),
            runs_job=self._runner.runs,
            entries=self._entries,
        )
        self._state = Calculation(epoch=epoch, stage_duration=self._stage_seconds).snapshot(0)
        self._received_at = time.time()
        """Wall-clock time the shown state was decided at (or, at worst, received)."""
        self._known = False
        self._linked = asyncio.Event()
        self._told_degraded = False
        self._closing = False
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._chores: set[asyncio.Task[Any]] = set()
        self._total = 0
        self._reported = 0
        hub.clients_total = self._clients_total
        hub.client_id_prefix = f"{node}/"

    @classmethod
    async def open(cls, settings: Settings, hub: Hub, metrics: Metrics, job: Job) -> ClusterService:
        """Connect to ``settings.redis_url``, join (or create) the cluster's state and follow it.

        ``job`` is what this node runs for the runs it starts (every node should have the same).

        Raises ``ClusterUnavailable`` when Redis cannot be reached in ``STARTUP_TIMEOUT``.
        """
        url, token = settings.redis_url, settings.token
        if url is None or token is None:
            raise ValueError("cluster mode needs a Redis URL and a token")
        node = settings.node or default_node_name()
        keys = cluster_keys(token)
        client = open_client(url, retries=1, name=f"calc-{node}", timeout=REPLY_TIMEOUT)
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                epoch = await ensure_record(client, keys, settings.stage_seconds)
                await _compare_jobs(client, keys, settings, node)
        except (RedisError, OSError, TimeoutError) as error:
            await client.aclose()
            raise ClusterUnavailable(
                f"cannot reach Redis at {redacted_url(url)} ({type(error).__name__})"
            ) from None
        service = cls(
            url=url,
            keys=keys,
            node=node,
            settings=settings,
            hub=hub,
            metrics=metrics,
            client=client,
            epoch=epoch,
            job=job,
        )
        service._tasks = [
            asyncio.create_task(service._subscriber.run()),
            asyncio.create_task(service._owner.run()),
            asyncio.create_task(service._report_presence()),
        ]
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                await service._linked.wait()
        except TimeoutError:
            await service.close()
            raise ClusterUnavailable(
                f"cannot follow the cluster's state on {redacted_url(url)}"
            ) from None
        await service.history.refresh()
        log.info("node %s joined the cluster on %s, epoch %s", node, redacted_url(url), epoch)
        return service

    # --- the service surface (see service_api.Service) ------------------------------------

    def snapshot(self) -> State:
        """The last state received, its elapsed time carried forward to now."""
        state = self._state
        if not state.state.running:
            return state
        elapsed = state.stage_elapsed + max(time.time() - self._received_at, 0.0)
        if state.stage_duration > 0:  # a job's stages have no set length
            elapsed = min(elapsed, state.stage_duration)
        return msgspec.structs.replace(state, stage_elapsed=elapsed)

    async def start(self, by: str) -> Outcome:
        """Start a calculation; the lease is taken first, so this node owns the run it starts."""
        if not await self._ready():
            return self._unavailable()
        if not self._timed and self._runner.busy:
            # the job of a run this node lost is still exiting: one process at a time
            return Outcome(False, AckReason.ALREADY_RUNNING, seq=self._state.seq)
        try:
            grant = await self._lease.acquire()
            if grant is None and not self._timed:
                grant = await self._lease_for_job()
        except LINK_ERRORS:
            return self._unavailable()
        outcome = await self._command(lambda calc, now: calc.start(now, by))
        if grant is not None:
            if outcome.accepted:
                if not self._timed:
                    self._runner.start(outcome.changes[-1].calculation_id or "", grant)
                self._owner.adopt(grant)
            else:
                await self._owner.release(grant)
        await self._until_shown(outcome.seq)
        return outcome

    async def _lease_for_job(self) -> Grant | None:
        """The lease, once the run that still holds it has let it go (a job's run must start
        with it: a node that takes the lease of a job's run it does not run ends it as lost)."""
        deadline = time.monotonic() + LEASE_WAIT
        while time.monotonic() < deadline:
            stored = await self._store.read()
            if stored is None or state_of(stored).state.running:
                return None  # the start is refused (already running), lease or not
            await asyncio.sleep(RETRY_DELAY)
            if (grant := await self._lease.acquire()) is not None:
                return grant
        return None

    async def cancel(self, by: str, calculation_id: str | None) -> Outcome:
        """Cancel the running calculation, from whichever node owns its timers."""
        if not await self._ready():
            return self._unavailable()
        outcome = await self._command(lambda calc, now: calc.cancel(now, by, calculation_id))
        await self._until_shown(outcome.seq)
        return outcome

    async def shutdown(self) -> None:
        """Stop taking commands; ``close`` hands a timer's run over (it is not canceled).

        A job running here cannot be handed over: it is canceled (``server shutdown``), given
        its grace, and its end committed before the node goes.
        """
        cid = self._runner.calculation_id
        if cid is not None:
            outcome = await self.cancel(SHUTDOWN, cid)
            if not outcome.accepted:
                self._runner.stop(min(self._grace, SHUTDOWN_GRACE))
            try:
                async with asyncio.timeout(min(self._grace, SHUTDOWN_GRACE) + END_WAIT):
                    await self._runner.wait()
            except TimeoutError:
                log.error("the job did not end %.1fs after SIGKILL", END_WAIT)
        self._closing = True

    async def close(self) -> None:
        """Stop following Redis, release the lease if held, withdraw this node's count."""
        self._closing = True
        for task in reversed(self._tasks):  # the owner first: it releases the lease as it ends
            await cancelled(task)
        for chore in list(self._chores):
            chore.cancel()
        await self._runner.close()
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                await self._board.withdraw(self.node)
        except (*LINK_ERRORS, TimeoutError):
            pass
        await self._client.aclose()

    # --- commands ------------------------------------------------------------------------

    async def _command(self, run: Callable[[Calculation, float], Outcome]) -> Outcome:
        """Decide on the stored state and commit; decide again if another change won first."""
        if self._closing:
            return self._unavailable()
        for _ in range(COMMAND_TRIES):
            try:
                stored = await self._store.read_timed()
                if stored is None:
                    return self._unavailable()  # Redis lost its data; a new epoch is coming
                record, decided_at = stored
                state = state_of(record)
                canceling_by = await self._store.canceling_by() if state.canceling else None
                now = time.time()
                calculation = restore(
                    state,
                    decided_at,
                    stage_seconds=self._stage_seconds,
                    now=now,
                    timed=self._timed,
                    canceling_by=canceling_by,
                )
                outcome = run(calculation, now)
                if not outcome.changes:
                    return outcome
                verdict = await commit(
                    self._store,
                    outcome.changes,
                    after=record.seq,
                    at=now,
                    canceling_by=calculation.canceling_by,
                    entries=await self._entries(record.seq, outcome.changes, now),
                )
            except LINK_ERRORS:
                return self._unavailable()
            if verdict is Verdict.APPLIED:
                return outcome
            if verdict is Verdict.WRONG_EPOCH:
                return self._unavailable()
        log.warning("a command lost %d compare-and-sets in a row; refused", COMMAND_TRIES)
        return self._unavailable()

    async def _entries(
        self,
        after: int,
        changes: Sequence[State],
        at: float,
        tail: Sequence[HistoryLine] = (),
    ) -> list[RunEntry | None]:
        """The run records ``changes`` make, once this node has shown the state they follow
        (so its book of runs has seen everything before them)."""
        await self._until_shown(after)
        return await self.history.entries(changes, at, command=self._job_command, tail=tail)

    async def _ready(self) -> bool:
        """True when in step with Redis; a node just back in touch gets a moment to finish."""
        if self._linked.is_set():
            return True
        if not self._subscriber.linked or self._closing:
            return False
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                await self._linked.wait()
        except TimeoutError:
            return False
        return True

    def _unavailable(self) -> Outcome:
        return Outcome(False, AckReason.BACKPLANE_UNAVAILABLE, seq=self._state.seq)

    async def _until_shown(self, seq: int) -> None:
        """Until the state with ``seq`` reached this node's clients (at most ``ACK_WAIT``)."""
        if self._state.seq >= seq or not self._linked.is_set():
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, future))
        try:
            async with asyncio.timeout(ACK_WAIT):
                await future
        except TimeoutError:
            log.warning("seq %d did not come back from Redis in %.1fs", seq, ACK_WAIT)

    # --- what the subscriber reports -----------------------------------------------------

    def _delivered(self, record: StateRecord) -> None:
        try:
            state = state_of(record)
        except msgspec.DecodeError as error:
            log.error("ignored stored state seq %d this node cannot read: %s", record.seq, error)
            return
        previous, self._state = self._state, state
        self._received_at = time.time()
        if self._known and state.epoch != previous.epoch:
            log.warning(
                "Redis lost the cluster's state: new epoch %s, clients reconnect", state.epoch
            )
            self.history.forget()
            self._restart_clients()
        else:
            self._metrics.state_changes += 1
            if not state.state.running:
                self.output.flush(at_once=True)  # every line of the run before its end
            self._hub.broadcast_state(record.frame)
            self.history.observe(state, self._received_at)
            if not state.state.running and state.calculation_id is not None:
                self._chore(self.history.refresh())  # its record came with it: last_run
            log_change(state)
        self._known = True
        self._runner.saw(state)
        self._owner.notice()
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        seq, kept = self._state.seq, []
        for wanted, future in self._waiters:
            if future.done():
                continue
            if wanted <= seq:
                future.set_result(None)
            else:
                kept.append((wanted, future))
        self._waiters = kept

    def _restart_clients(self) -> None:
        """Close every connection with 1012: clients reconnect and meet the new epoch."""
        for peer in self._hub.peers:
            peer.close_code = WSCloseCode.SERVICE_RESTART
            self._chore(peer.ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"state was lost"))

    def _link_changed(self, up: bool) -> None:
        if up:
            self._chore(self._relinked())
            return
        self._linked.clear()
        if self._closing:
            return
        log.warning("cluster degraded: Redis at %s unreachable", redacted_url(self._url))
        self._told_degraded = True
        self._hub.broadcast_notice(_DEGRADED, lasting=True)

    async def _relinked(self) -> None:
        """Following again: make sure the dataset has an epoch and a record, then take commands."""
        delay = RETRY_DELAY
        while self._subscriber.linked:
            try:
                await ensure_record(self._client, self._keys, self._stage_seconds)
                stored = await self._store.read_timed()
                break
            except LINK_ERRORS:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)
        else:
            return
        if stored is not None:
            record, decided_at = stored
            state = self._state
            if decided_at and (record.epoch, record.seq) == (state.epoch, state.seq):
                self._received_at = decided_at  # a resynced state may be older than its arrival
        self._linked.set()
        self._chore(self.history.refresh())
        if self._told_degraded:
            self._told_degraded = False
            log.info("cluster healthy: following Redis again")
            self._hub.broadcast_notice(_HEALTHY, lasting=False)

    def _chore(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    # --- presence ------------------------------------------------------------------------

    def _clients_total(self, local: int) -> int:
        """The cluster's count as last read, with this node's own changes since applied."""
        return max(local, self._total - self._reported + local)

    async def _report_presence(self) -> None:
        while True:
            local = len(self._hub)
            try:
                await self._board.report(self.node, local)
                total = await self._board.total()
            except LINK_ERRORS:
                pass
            else:
                self._reported = local
                if total != self._total:
                    self._total = total
                    self._hub.presence_changed()
            await asyncio.sleep(PRESENCE_INTERVAL)


async def _compare_jobs(client: Redis, keys: Keys, settings: Settings, node: str) -> None:
    """Warn when this node runs another job than the node that joined before it.

    Each run is whatever its starting node runs, so nodes with different ``--job`` make a
    cluster whose runs depend on where ``start`` landed: a configuration mistake to say aloud.
    """
    ours = "" if settings.job is None else shlex.join(settings.job)
    theirs = await client.getset(keys.job, ours)
    if theirs is not None and as_text(theirs) != ours:
        log.warning(
            "node %s runs %s but the node that joined before it runs %s: every node of a "
            "cluster needs the same --job",
            node,
            repr(ours) if ours else "the built-in timer",
            repr(as_text(theirs)) if as_text(theirs) else "the built-in timer",
        )
