"""The run owner: the node holding the lease ends each stage on the run's grid.

Every node runs one ``RunOwner``. While a calculation runs, each tries to hold the lease; the
one that holds it reads the stored state, sleeps until the next deadline and commits the stage
end with its fencing token. A node that accepted ``start`` took the lease first and hands it
over (``adopt``), so it owns the run it started. When the owner dies its lease expires and
another node takes over: the grid comes from the stored record, so the run keeps its schedule,
and a stage that should already have ended ends at once. A paused owner that wakes up after
losing the lease is refused by the fencing check and goes back to competing.

A real job's run has no grid: its node holds the lease while the job runs (``runs_job``), and
the events of the job move it (``job_run``). A node that takes the lease of a job's run it does
not run ends it FAILED, saying the node was lost: the job's process was on that node, and
running the command again elsewhere could do its work twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from calc_server.cluster.commit import commit
from calc_server.cluster.lease import Grant, Lease
from calc_server.cluster.mirror import restore, state_of
from calc_server.cluster.state import RunEntry, SharedState, Verdict
from calc_server.cluster.subscriber import LINK_ERRORS
from protocol import State

log = logging.getLogger("calc_server.cluster.owner")

RETRY_DELAY = 0.1
"""First pause after Redis failed the owner; doubles up to ``RETRY_CAP``."""
RETRY_CAP = 2.0

Entries = Callable[[int, Sequence[State], float], Awaitable[list[RunEntry | None]]]
"""The run records changes make: (the seq they follow, the changes, decided at)."""


async def _no_entries(after: int, changes: Sequence[State], at: float) -> list[RunEntry | None]:
    return []


def lost_node(node: str | None) -> str:
    """``ended_by`` of a job's run whose node was lost."""
    return f"node {node} was lost" if node else "the node running the job was lost"


class RunOwner:
    """Holds the lease while a calculation runs and drives its stage ends.

    ``running()`` says whether the node's latest known state is a running one; ``notice()``
    must be called on every state change the node receives.
    """

    def __init__(
        self,
        store: SharedState,
        lease: Lease,
        *,
        running: Callable[[], bool],
        stage_seconds: float,
        poll: float = 0.5,
        runs_job: Callable[[str | None], bool] = lambda calculation_id: False,
        entries: Entries = _no_entries,
    ) -> None:
        self._store = store
        self._lease = lease
        self._running = running
        self._stage_seconds = stage_seconds
        self._poll = poll
        self._runs_job = runs_job
        self._entries = entries
        self._last_holder: str | None = None
        """The node last seen holding the lease: the one lost if its lease runs out."""
        self._wake = asyncio.Event()
        self._adopted: Grant | None = None
        self.grant: Grant | None = None
        """The lease this node drives the run with, while it does."""

    def notice(self) -> None:
        """A new state arrived: look again."""
        self._wake.set()

    def adopt(self, grant: Grant) -> None:
        """Drive the run this node just started with the lease it took for it."""
        self._adopted = grant
        self._wake.set()

    async def run(self) -> None:
        """Compete for the lease whenever a calculation runs, and drive it while held."""
        delay = RETRY_DELAY
        while True:
            try:
                await self._until_running()
                grant = await self._claim()
                if grant is not None:
                    await self._drive(grant)
                delay = RETRY_DELAY
            except LINK_ERRORS as error:
                log.info("run owner: Redis unreachable (%s), retrying", type(error).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP)

    async def _until_running(self) -> None:
        while True:
            self._wake.clear()
            if self._running():
                return
            await self._wake.wait()

    async def _claim(self) -> Grant | None:
        """The lease, once free (None if the run ended before it was)."""
        while self._running():
            self._wake.clear()
            adopted, self._adopted = self._adopted, None
            if adopted is not None:
                return adopted
            grant = await self._lease.acquire()
            if grant is not None:
                return grant
            holder = await self._lease.holder()
            if holder is not None:
                self._last_holder = holder.node
            wait = self._poll if holder is None else min(self._poll, holder.remaining)
            await self._sleep(max(wait, 0.001))
        return None

    async def _drive(self, grant: Grant) -> None:
        """End the run's stages on time while ``grant`` holds; release it when the run ends."""
        self.grant = grant
        keeper = asyncio.create_task(self._lease.keep(grant))
        lost = False
        try:
            lost = await self._drive_until_done(grant, keeper)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            self.grant = None
            if not lost:
                await self.release(grant)

    async def _drive_until_done(self, grant: Grant, keeper: asyncio.Task[None]) -> bool:
        """True when the lease was lost, False when the run is over (or the epoch gone).

        Redis failing a call does not end the drive: the lease stays this node's until the
        keeper says it is lost (Redis said so, or it was unreachable for the whole lease), so
        the node tries again with the same grant. Giving the lease up instead would hand a
        job's run to a node that ends it as lost, after a hiccup the job never noticed.
        """
        delay = RETRY_DELAY
        while not keeper.done():
            try:
                over = await self._drive_step(grant, keeper)
            except LINK_ERRORS as error:
                log.info(
                    "run owner: Redis unreachable (%s), still holding lease token %d",
                    type(error).__name__,
                    grant.token,
                )
                await self._sleep(delay, keeper)
                delay = min(delay * 2, RETRY_CAP)
                continue
            delay = RETRY_DELAY
            if over is not None:
                return over
        return True

    async def _drive_step(self, grant: Grant, keeper: asyncio.Task[None]) -> bool | None:
        """Read the run and make its next change if one is due; what ``_drive_until_done``
        returns, or None to look again."""
        self._wake.clear()
        stored = await self._store.read_timed()
        if stored is None:
            return False  # Redis restarted empty: a new epoch begins without this run
        record, decided_at = stored
        now = time.time()
        calculation = restore(
            state_of(record), decided_at, stage_seconds=self._stage_seconds, now=now
        )
        if not calculation.timed:
            if self._runs_job(calculation.calculation_id):
                await self._sleep(None, keeper)  # the job's events move it: see job_run
                return None
            changes = calculation.fail(now, lost_node(self._last_holder))
            log.warning("calculation %s: %s", calculation.calculation_id, changes[0].ended_by)
        else:
            deadline = calculation.deadline()
            if deadline is None:
                return False
            if deadline > now:
                woken = await self._sleep(deadline - now, keeper)
                if woken:
                    return None  # the state changed (or the lease went): read it again
                now = time.time()
            changes = calculation.advance(now)
        entries = await self._entries(record.seq, changes, now)
        verdict = await commit(
            self._store, changes, after=record.seq, at=now, fence=grant.token, entries=entries
        )
        if verdict is Verdict.STALE_FENCE:
            log.warning(
                "run owner %s: change refused, fencing token %d is stale "
                "(the lease passed to another node)",
                grant.node,
                grant.token,
            )
            return True
        if verdict is Verdict.WRONG_EPOCH:
            return False
        return None

    async def _sleep(self, delay: float | None, keeper: asyncio.Task[None] | None = None) -> bool:
        """Sleep ``delay`` seconds (None: until woken); True when woken by a new state or a
        lost lease."""
        waker = asyncio.ensure_future(self._wake.wait())
        waiting: set[asyncio.Future[Any]] = {waker}
        if keeper is not None:
            waiting.add(keeper)
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=delay, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waker.cancel()
        return bool(done)

    async def release(self, grant: Grant) -> None:
        """Give ``grant`` up now, so another node need not wait for it to expire."""
        with contextlib.suppress(*LINK_ERRORS):  # unreachable: it expires by itself
            await self._lease.release(grant)
