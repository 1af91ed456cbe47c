"""A real job in a cluster: it runs on the node that accepted ``start``, its events become
changes every node shows.

The node that won ``start`` holds the run's lease (see ``owner``) and runs the job here. Each
event of the job is decided on the stored state, as any command is, and committed with the
lease's fencing token: progress and messages at most every ``REPORT_INTERVAL``, a stage or the
end at once. The job's output is batched as on a single server (``OutputFeed``), but each batch
is published on ``keys.output_channel`` and every node, this one included, forwards the frames
it receives to its clients. Before the end is committed every batch is published, so clients
see all of the run's lines before its final state.

A cancel is decided by whichever node a client asked (the state then says ``canceling``);
this node sees that state and stops the job's process group, whose exit then ends the run as
CANCELED. A run that ended without this node (it was paused past its lease and another node
ended it as lost) has its job stopped as soon as this node sees so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from calc_server.calculation import REPORT_INTERVAL
from calc_server.cluster.commit import commit
from calc_server.cluster.keys import Keys
from calc_server.cluster.lease import Grant
from calc_server.cluster.mirror import restore, state_of
from calc_server.cluster.state import RunEntry, SharedState, Verdict
from calc_server.cluster.subscriber import LINK_ERRORS
from calc_server.cluster.tasks import cancelled
from calc_server.history import OUTPUT_TAIL_LINES
from calc_server.history import OutputLine as HistoryLine
from calc_server.hub import Hub
from calc_server.jobs import Exited, Job, JobEvent, Output, Report
from calc_server.metrics import Metrics
from calc_server.output_feed import OutputFeed
from protocol import State

log = logging.getLogger("calc_server.cluster.job")

Entries = Callable[[int, Sequence[State], float, Sequence[HistoryLine]], Awaitable[list[Any]]]
"""The run records changes make: (seq they follow, changes, decided at, the job's last lines)."""

FRAMES_QUEUED = 64
"""Output frames waiting to be published at most; beyond, the oldest are dropped (a gap in
the offsets, as for a slow client)."""

RETRY_DELAY = 0.05
RETRY_CAP = 2.0


class JobRunner:
    """This node's job, run for the runs this node starts; see the module docstring."""

    def __init__(
        self,
        job: Job,
        *,
        store: SharedState,
        client: Redis,
        keys: Keys,
        hub: Hub,
        metrics: Metrics,
        entries: Entries,
        grace: float,
        stage_seconds: float,
    ) -> None:
        self._job = job
        self._store = store
        self._client = client
        self._channel = keys.output_channel
        self._entries = entries
        self._grace = grace
        self._stage_seconds = stage_seconds
        self._feed = OutputFeed(hub, metrics, publish=self._queue_frame)
        self._frames: deque[bytes] = deque(maxlen=FRAMES_QUEUED)
        self._frames_waiting = asyncio.Event()
        self._frames_gone = asyncio.Event()
        self._frames_gone.set()
        self._publisher: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.calculation_id: str | None = None
        """The run whose job runs here, from its start until its end is committed."""

    @property
    def busy(self) -> bool:
        """True while a job of this node has not ended (even one whose run is over)."""
        return self._job.running or self.calculation_id is not None

    def runs(self, calculation_id: str | None) -> bool:
        """True while this node runs the job of ``calculation_id``."""
        return calculation_id is not None and calculation_id == self.calculation_id

    def start(self, calculation_id: str, grant: Grant) -> None:
        """Run the job for ``calculation_id``, which this node started holding ``grant``."""
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish_frames())
        self.calculation_id = calculation_id
        self._stopping = False
        self._feed.new_run(calculation_id)
        events: asyncio.Queue[JobEvent] = asyncio.Queue()

        def sink(event: JobEvent) -> None:
            if isinstance(event, Output):
                self._feed.add(event.lines)
                return
            if isinstance(event, Exited):
                self._feed.flush(at_once=True)  # every line is published before the end
            events.put_nowait(event)

        self._job.start(calculation_id, sink)
        self._task = asyncio.create_task(self._follow(calculation_id, grant, events))

    def saw(self, state: State) -> None:
        """A state every node shows: stop the job when it says to (a cancel from any node),
        or when the run is over without it (another node ended it as lost)."""
        if self.calculation_id is None or self._stopping or not self._job.running:
            return
        over = state.calculation_id != self.calculation_id or not state.state.running
        if over or state.canceling:
            if over:
                log.warning(
                    "calculation %s ended without its job: stopping it", self.calculation_id
                )
            self._stop(self._grace)

    async def wait(self) -> None:
        """Until the current run's end is committed (or given up)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def stop(self, grace: float) -> None:
        """Stop the job now, whatever the cluster says (the node is stopping)."""
        if self.calculation_id is not None and self._job.running:
            self._stop(grace)

    async def close(self) -> None:
        """Stop publishing; the job's processes go with the server (see the supervisor)."""
        self._feed.stop()
        for task in (self._task, self._publisher):
            if task is not None:
                await cancelled(task)

    def _stop(self, grace: float) -> None:
        self._stopping = True
        self._job.cancel(grace)

    # --- the job's events, committed in order ---------------------------------------------

    async def _follow(self, cid: str, grant: Grant, events: asyncio.Queue[JobEvent]) -> None:
        """Commit the run's events until its ``Exited``; reports merged, paced."""
        loop = asyncio.get_running_loop()
        pending: Report | None = None
        reported_at = float("-inf")
        ours = True
        try:
            while True:
                due = None if pending is None else reported_at + REPORT_INTERVAL - loop.time()
                try:
                    async with asyncio.timeout(None if due is None else max(due, 0.0)):
                        event: JobEvent | None = await events.get()
                except TimeoutError:
                    event = None
                if isinstance(event, Report):
                    pending = event if pending is None else pending.merged(event)
                    if loop.time() < reported_at + REPORT_INTERVAL:
                        continue
                    event = None
                if pending is not None:
                    if ours:
                        ours = await self._apply(cid, grant, pending)
                    pending, reported_at = None, loop.time()
                if isinstance(event, Exited):
                    await self._published()
                    log.info("job of calculation %s ended: %s", cid, event.describe())
                    if ours:
                        await self._apply(cid, grant, event)
                    return
                if event is not None and ours:
                    ours = await self._apply(cid, grant, event)
                if not ours and not self._stopping:
                    self._stop(self._grace)  # the run went on without this node
        finally:
            self.calculation_id = None

    async def _apply(self, cid: str, grant: Grant, event: JobEvent) -> bool:
        """Commit what ``event`` changes; False when the run is no longer this node's."""
        delay = RETRY_DELAY
        while True:
            try:
                verdict = await self._try(cid, grant, event)
            except LINK_ERRORS as error:
                # The run stays ours until the lease says otherwise: Redis decides that too.
                log.info("job event not committed yet (%s), retrying", type(error).__name__)
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, RETRY_CAP)
                continue
            if verdict is None or verdict is Verdict.APPLIED:
                return True
            if verdict is not Verdict.STALE_SEQ:
                log.warning("calculation %s is no longer this node's (%s)", cid, verdict.name)
                return False

    async def _try(self, cid: str, grant: Grant, event: JobEvent) -> Verdict | None:
        """One decision and commit; None when the event changes nothing (or the run is over)."""
        stored = await self._store.read_timed()
        if stored is None:
            return Verdict.WRONG_EPOCH
        record, decided_at = stored
        state = state_of(record)
        if state.calculation_id != cid or not state.state.running:
            return Verdict.WRONG_EPOCH if state.calculation_id != cid else None
        canceling_by = await self._store.canceling_by() if state.canceling else None
        now = time.time()
        calculation = restore(
            state,
            decided_at,
            stage_seconds=self._stage_seconds,
            now=now,
            timed=False,
            canceling_by=canceling_by,
        )
        changes = calculation.job_event(now, cid, event)
        if not changes:
            return None
        tail = self._tail() if isinstance(event, Exited) else ()
        entries: list[RunEntry | None] = await self._entries(record.seq, changes, now, tail)
        return await commit(
            self._store,
            changes,
            after=record.seq,
            at=now,
            fence=grant.token,
            canceling_by=calculation.canceling_by,
            entries=entries,
        )

    def _tail(self) -> tuple[HistoryLine, ...]:
        """The run's last lines, for its history record."""
        lines = self._feed.ring.tail(OUTPUT_TAIL_LINES).lines
        return tuple(HistoryLine(line.stream, line.text) for line in lines)

    # --- output frames to Redis, in order -------------------------------------------------

    def _queue_frame(self, frame: bytes) -> None:
        self._frames.append(frame)
        self._frames_gone.clear()
        self._frames_waiting.set()

    async def _published(self) -> None:
        """Until every queued frame was published (or dropped: Redis unreachable)."""
        await self._frames_gone.wait()

    async def _publish_frames(self) -> None:
        while True:
            await self._frames_waiting.wait()
            self._frames_waiting.clear()
            while self._frames:
                frame = self._frames.popleft()
                with contextlib.suppress(*LINK_ERRORS):  # lost lines: clients see a gap
                    await self._client.publish(self._channel, frame)
            self._frames_gone.set()
