"""The output ring: the last lines of the current run and of the previous one. Pure.

Every line has an offset, its index within its run (0 for the run's first line), that never
changes: a client that fell behind sees a gap between the offsets it got and can ask for the
lines ``since`` the last one it has; lines older than the ring's reach are simply gone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from calc_server.jobs.output import OutputLine

KEPT_LINES = 1000
"""Lines kept per run."""

LATE_JOINER_LINES = 100
"""Lines a client that connects mid-run is sent after its state."""


@dataclass(frozen=True, slots=True)
class Page:
    """Consecutive lines of one run: ``lines[0]`` has index ``offset`` in the run."""

    calculation_id: str | None
    offset: int
    lines: tuple[OutputLine, ...]

    @property
    def end(self) -> int:
        """The offset just past the last line: where the next page starts."""
        return self.offset + len(self.lines)


class RunLines:
    """The last ``capacity`` lines of one run, with their offsets."""

    __slots__ = ("_lines", "calculation_id", "next_offset")

    def __init__(self, calculation_id: str | None, capacity: int = KEPT_LINES) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.calculation_id = calculation_id
        self._lines: deque[OutputLine] = deque(maxlen=capacity)
        self.next_offset = 0

    @property
    def first_offset(self) -> int:
        """The offset of the oldest line still kept."""
        return self.next_offset - len(self._lines)

    def append(self, lines: Iterable[OutputLine]) -> Page:
        """Keep ``lines`` (the oldest fall out) and return them as a page with their offset."""
        batch = tuple(lines)
        page = Page(self.calculation_id, self.next_offset, batch)
        self._lines.extend(batch)
        self.next_offset += len(batch)
        return page

    def since(self, offset: int | None, limit: int) -> Page:
        """Up to ``limit`` lines from ``offset`` on (None: the last ``limit`` lines).

        An offset older than what is kept starts at the oldest kept line, so the page's
        ``offset`` tells the caller how many it missed; one past the end gives an empty page.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if offset is None:
            start = max(self.first_offset, self.next_offset - limit)
        else:
            start = min(max(offset, self.first_offset), self.next_offset)
        skip = start - self.first_offset
        lines = tuple(islice(self._lines, skip, skip + limit))
        return Page(self.calculation_id, start, lines)

    def tail(self, count: int = LATE_JOINER_LINES) -> Page:
        """The last ``count`` lines, for a client that joins mid-run."""
        return self.since(None, count)


class OutputRing:
    """The current run's lines and the previous run's; a new run pushes the current one back."""

    __slots__ = ("_capacity", "current", "previous")

    def __init__(self, capacity: int = KEPT_LINES) -> None:
        self._capacity = capacity
        self.current = RunLines(None, capacity)
        self.previous = RunLines(None, capacity)

    def new_run(self, calculation_id: str) -> None:
        """Start keeping lines for ``calculation_id``; the current run becomes the previous."""
        self.previous = self.current
        self.current = RunLines(calculation_id, self._capacity)

    def append(self, lines: Iterable[OutputLine]) -> Page:
        """Keep lines of the current run; the page says at which offset they start."""
        return self.current.append(lines)

    def mirror(self, page: Page) -> None:
        """Keep ``page``, numbered by the ring of another node (cluster mode): it continues the
        current run, or starts its run again from its offset (a new run, or lines missed)."""
        current = self.current
        if page.calculation_id != current.calculation_id:
            self.new_run(page.calculation_id or "")
            current = self.current
        if page.offset != current.next_offset:
            current = self.current = RunLines(page.calculation_id, self._capacity)
            current.next_offset = page.offset
        current.append(page.lines)

    def run(self, calculation_id: str | None = None) -> RunLines | None:
        """The kept run with this id (None: the current one), or None if it is not kept."""
        if calculation_id is None or calculation_id == self.current.calculation_id:
            return self.current
        if calculation_id == self.previous.calculation_id:
            return self.previous
        return None

    def since(self, offset: int | None, limit: int) -> Page:
        """Lines of the current run for a ``logs`` request (see ``RunLines.since``)."""
        return self.current.since(offset, limit)

    def tail(self, count: int = LATE_JOINER_LINES) -> Page:
        """The current run's last ``count`` lines, for a late joiner."""
        return self.current.tail(count)
