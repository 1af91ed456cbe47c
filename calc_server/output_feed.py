"""A job's output on its way to the clients: kept in the ring, fanned out in paced batches.

Lines arrive as the job prints them; they are numbered and kept at once (``OutputRing``) and
broadcast in batches, each encoded once, at most ``BATCH_INTERVAL`` apart. A state change never
waits for output: the service broadcasts states directly, and the hub writes output only to
peers with nothing unsent (``Hub.broadcast_output``), so a slow client sees a gap in the
offsets instead of holding anything up.

The fan-out of output has a budget of its own, whatever the number of clients: at most
``WRITES_PER_SECOND`` frame writes and about ``BYTES_PER_SECOND`` bytes a second. With many
clients the batches come less often (each holding more lines, so a reading client still gets
every line) and, past the byte budget, a batch keeps only its newest lines (the older ones are
a gap, which ``logs`` can fetch while they are kept). So a flood costs the server, and the
clients' network, a bounded share however many are watching, and the states keep their pace.

A batch goes out to one tenth of the peers at a time, spread over the batch interval: at no
moment do all the clients have a batch to read in front of the next state. At the run's end
every batch still on its way goes out to all at once, before the final state.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from calc_server.frames import text_frame
from calc_server.hub import Hub
from calc_server.jobs import OutputLine, OutputRing, Page
from calc_server.jobs.buffer import KEPT_LINES
from calc_server.jobs.output import Stream
from calc_server.metrics import Metrics
from protocol import Logs, Output, encode
from protocol import OutputLine as WireLine

BATCH_INTERVAL = 0.1
"""Least seconds between output batches: at most 10 ``output`` messages a second to a client."""

WRITES_PER_SECOND = 2_000
"""Output frames written to peers per second, all peers together: beyond 200 clients the
batches come less often than every ``BATCH_INTERVAL``."""

BYTES_PER_SECOND = 8 * 1024 * 1024
"""About how many bytes of output the server writes per second, all peers together."""

MIN_BATCH_BYTES = 8 * 1024
"""A batch may always be this big, however many peers share the byte budget."""

LINE_OVERHEAD = 32
"""Bytes a line adds to an ``output`` message beyond its text (its stream, quotes, commas)."""

SHARES = 10
"""A batch is written to the peers in this many shares, spread over its interval."""

MAX_FRAME_BYTES = 256 * 1024
"""An ``output`` frame stays below this (clients accept 1 MiB); a bigger batch is split."""


def batch_interval(peers: int) -> float:
    """Seconds between batches for ``peers`` peers: ``BATCH_INTERVAL``, or longer so that
    the writes stay within ``WRITES_PER_SECOND``."""
    return max(BATCH_INTERVAL, peers / WRITES_PER_SECOND)


def batch_bytes(peers: int, interval: float) -> int:
    """The byte budget of one batch (to each of ``peers`` peers, one every ``interval``)."""
    return max(MIN_BATCH_BYTES, int(BYTES_PER_SECOND * interval / max(peers, 1)))


def newest_within(lines: list[OutputLine], budget: int) -> int:
    """How many of the oldest ``lines`` to leave out so the rest take about ``budget`` bytes.

    The newest line always stays, whatever its size.
    """
    total = 0
    for index in range(len(lines) - 1, -1, -1):
        total += len(lines[index].text) + LINE_OVERHEAD
        if total > budget:
            return index + 1 if index < len(lines) - 1 else index
    return 0


def _message(page: Page, request_id: str | None = None) -> bytes:
    lines = [WireLine(stream=line.stream, text=line.text) for line in page.lines]
    return encode(
        Output(
            calculation_id=page.calculation_id,
            offset=page.offset,
            lines=lines,
            request_id=request_id,
        )
    )


_output_decoder = msgspec.json.Decoder(Output)


def page_of(frame: bytes) -> Page:
    """The lines an encoded ``output`` message carries (``msgspec.DecodeError`` if none)."""
    message = _output_decoder.decode(frame)
    lines = tuple(OutputLine(_stream(line.stream), line.text) for line in message.lines)
    return Page(message.calculation_id, message.offset, lines)


def _stream(name: str) -> Stream:
    return "err" if name == "err" else "out"


def frames(page: Page) -> list[bytes]:
    """``page`` as ``output`` messages, split in halves until each fits ``MAX_FRAME_BYTES``."""
    payload = _message(page)
    if len(payload) <= MAX_FRAME_BYTES or len(page.lines) < 2:
        return [payload]
    half = len(page.lines) // 2
    first = Page(page.calculation_id, page.offset, page.lines[:half])
    rest = Page(page.calculation_id, page.offset + half, page.lines[half:])
    return [*frames(first), *frames(rest)]


def answer(page: Page, request_id: str) -> bytes:
    """The one ``output`` answering a ``logs`` request: the page's first lines that fit a frame.

    The client asks again from where this answer ends for the rest.
    """
    while True:
        payload = _message(page, request_id)
        if len(payload) <= MAX_FRAME_BYTES or len(page.lines) < 2:
            return payload
        page = Page(page.calculation_id, page.offset, page.lines[: len(page.lines) // 2])


@dataclass(slots=True)
class _OnItsWay:
    """One output frame being written to the peers, share by share."""

    frame: bytes
    """The whole WebSocket frame, built once for every peer."""
    share: int = 0
    """The next share of the peers to write it to (``SHARES``: done)."""


class OutputFeed:
    """The kept lines of the current and previous run, and the batch not yet broadcast.

    With ``publish`` (cluster mode, on the node running the job) each batch's frames go there
    instead of to this node's peers; every node, this one too, gets them back and hands them
    to ``forward``.
    """

    def __init__(
        self, hub: Hub, metrics: Metrics, publish: Callable[[bytes], None] | None = None
    ) -> None:
        self._hub = hub
        self._metrics = metrics
        self._publish = publish
        self.ring = OutputRing()
        self._pending: list[OutputLine] = []
        self._pending_offset = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushed_at = float("-inf")
        self._interval = BATCH_INTERVAL
        """Seconds from the last batch to the next (``batch_interval`` at the last flush)."""
        self._fanning: deque[_OnItsWay] = deque()
        """Frames on their way out: each with the next share of the peers to write it to."""
        self._share_timer: asyncio.TimerHandle | None = None

    def new_run(self, calculation_id: str) -> None:
        """Lines from now on belong to ``calculation_id`` (offsets start again at 0)."""
        self.flush(at_once=True)
        self.ring.new_run(calculation_id)

    def add(self, lines: Iterable[OutputLine]) -> None:
        """Keep the current run's new lines and queue them for the next batch."""
        page = self.ring.append(lines)
        if not page.lines:
            return
        if not self._pending:
            self._pending_offset = page.offset
        self._pending.extend(page.lines)
        if len(self._pending) > KEPT_LINES:  # older ones are not kept either: a gap
            self._pending_offset += len(self._pending) - KEPT_LINES
            del self._pending[:-KEPT_LINES]
        if self._timer is None:
            loop = asyncio.get_running_loop()
            due = max(self._flushed_at + self._interval, loop.time())
            self._timer = loop.call_at(due, self.flush)

    def flush(self, *, at_once: bool = False) -> None:
        """Send the queued lines as a batch; ``at_once``: to every peer now, with every batch
        still on its way (the run's end does this before its final state)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            if at_once:
                self._write_shares(everything=True)
            return
        peers = self._hub.writable
        self._interval = batch_interval(peers)
        older = newest_within(self._pending, batch_bytes(peers, self._interval))
        lines = tuple(self._pending[older:])
        page = Page(self.ring.current.calculation_id, self._pending_offset + older, lines)
        self._pending = []
        self._flushed_at = asyncio.get_running_loop().time()
        for payload in frames(page):
            self._metrics.output_batches += 1
            if self._publish is not None:
                self._publish(payload)  # every node, this one too, gets it back in forward
            else:
                self._fanning.append(_OnItsWay(text_frame(payload)))
        if at_once or self._share_timer is None:  # else the next share's timer takes it
            self._write_shares(everything=at_once)

    def forward(self, payload: bytes) -> None:
        """Fan out an ``output`` message the job's node published, as if it were this node's
        own batch (its exact bytes, framed once), and keep its lines for ``logs`` and late
        joiners."""
        try:
            page = page_of(payload)
        except msgspec.DecodeError:
            return  # not an output message: nothing of ours publishes one
        self.ring.mirror(page)
        self._fanning.append(_OnItsWay(text_frame(payload)))
        if self._share_timer is None:
            self._write_shares()

    def _write_shares(self, *, everything: bool = False) -> None:
        """Write the next share of every frame on its way (all its shares if ``everything``)."""
        if self._share_timer is not None:
            self._share_timer.cancel()
            self._share_timer = None
        for entry in self._fanning:
            last = SHARES if everything else entry.share + 1
            for part in range(entry.share, last):
                self._hub.broadcast_output(entry.frame, part, SHARES)
            entry.share = last
        while self._fanning and self._fanning[0].share == SHARES:
            self._fanning.popleft()
        if self._fanning and self._share_timer is None:
            loop = asyncio.get_running_loop()
            self._share_timer = loop.call_later(self._interval / SHARES, self._write_shares)

    def tail(self) -> list[bytes]:
        """The current run's last lines for a client that just connected (none: nothing)."""
        page = self.ring.tail()
        return frames(page) if page.lines else []

    def logs(self, request: Logs) -> bytes:
        """The answer to a ``logs`` request; a run that is not kept gets an empty page."""
        run = self.ring.run(request.calculation_id)
        if run is None:
            page = Page(request.calculation_id, 0, ())
        else:
            page = run.since(request.since, request.limit)
        return answer(page, request.request_id)

    def stop(self) -> None:
        """Drop the pending batch's timers: the server is stopping."""
        for timer in (self._timer, self._share_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._share_timer = None
