"""A job's output bytes turned into lines and reports: pure, no I/O, no clock of its own.

Each stream (stdout ``out``, stderr ``err``) is split on ``\\n`` and on ``\\r`` (tqdm redraws
its bar with ``\\r``; ``\\r\\n`` counts once). A line then becomes one of:

- a **report**: a JSON object whose only top-level key is ``"calc"``, e.g.
  ``{"calc": {"progress": 0.42, "message": "epoch 3/10", "stage": "ALMOST_DONE"}}``;
  consumed, never shown. One that does not validate is plain output;
- a **tqdm bar** on stderr (``desc:  42%|████▏     | 42/100 [00:01<00:01, 41.5it/s]``): read as a
  report with that progress, never shown;
- plain **output**, decoded as UTF-8 with replacement. Escape sequences stay in the text: the
  clients sanitise at display.

Bounds: a line longer than ``MAX_LINE_BYTES`` is cut with ``CUT_MARKER`` and the rest of it is
discarded as it arrives, so a job that never prints a newline holds at most that much here.
Output lines share a token-bucket ``RateBudget`` (reports and bars do not count); the excess is
dropped and counted, and the count comes out as one ``"... 12,345 lines skipped"`` line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

Stream = Literal["out", "err"]
"""Which pipe a line came from: the job's stdout or its stderr."""

MAX_LINE_BYTES = 4096
"""A longer line is cut here (in bytes, backed off to a UTF-8 character boundary)."""

CUT_MARKER = " …[line cut at 4 KiB]"
"""Appended to a cut line."""

MAX_MESSAGE_CHARS = 200
"""A report's message is shortened to this many characters (the state carries it)."""

LINES_PER_SECOND = 2000.0
"""Default output budget: lines per second, with a burst of as many."""


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line the job printed, without its terminator."""

    stream: Stream
    text: str


@dataclass(frozen=True, slots=True)
class Report:
    """What the job said about itself; a field it did not send is None."""

    progress: float | None = None
    message: str | None = None
    stage: str | None = None

    def merged(self, later: Report) -> Report:
        """This report updated by a later one: the later fields win where they are set."""
        return Report(
            progress=self.progress if later.progress is None else later.progress,
            message=self.message if later.message is None else later.message,
            stage=self.stage if later.stage is None else later.stage,
        )


ParsedLine = OutputLine | Report


# --- the report line ----------------------------------------------------------------------


class _ReportBody(msgspec.Struct, frozen=True):
    """The value of ``"calc"``: unknown fields are ignored so jobs may send more later."""

    progress: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None = None
    message: str | None = None
    stage: Literal["IN_PROGRESS", "ALMOST_DONE"] | None = None


class _ReportLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A report line: an object with ``"calc"`` as its only key."""

    calc: _ReportBody


_report_decoder = msgspec.json.Decoder(_ReportLine)


def parse_report(raw: bytes) -> Report | None:
    """The report in ``raw`` (one line, no terminator), or None if it is not a valid one."""
    stripped = raw.strip()
    # Cheap filter first: most lines are not JSON, and a flood must not pay for a decode each.
    if not (stripped.startswith(b"{") and stripped.endswith(b"}") and b'"calc"' in stripped):
        return None
    try:
        body = _report_decoder.decode(stripped).calc
    except (msgspec.DecodeError, UnicodeDecodeError):  # msgspec lets invalid UTF-8 through as such
        return None
    return Report(progress=body.progress, message=shorten(body.message), stage=body.stage)


def shorten(message: str | None) -> str | None:
    """``message`` cut to ``MAX_MESSAGE_CHARS`` characters (an ellipsis marks the cut)."""
    if message is None or len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"


# --- tqdm ---------------------------------------------------------------------------------

# tqdm's default layout is '{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [...]'. A search
# plus plain string look-ups keeps this linear on hostile lines (no nested quantifiers).
_PERCENT_BAR = re.compile(r"(?<!\d)(\d{1,3})%\|")


def parse_tqdm(text: str) -> Report | None:
    """The progress shown by one tqdm bar line, or None if ``text`` is not one."""
    found = _PERCENT_BAR.search(text)
    if found is None:
        return None
    percent = int(found[1])
    bar_end = text.find("|", found.end())
    if percent > 100 or bar_end < 0:
        return None
    desc = text[: found.start()].strip().removesuffix(":").strip()
    words = [desc, f"{percent}%", text[bar_end + 1 :].strip()]
    return Report(progress=percent / 100, message=shorten(" ".join(w for w in words if w)))


# --- lines --------------------------------------------------------------------------------


def decode_text(raw: bytes) -> str:
    """Bytes of one line as text: invalid UTF-8 becomes U+FFFD, never an error."""
    return raw.decode("utf-8", errors="replace")


def _cut(raw: bytes) -> bytes:
    """The first ``MAX_LINE_BYTES`` of ``raw``, not splitting a UTF-8 character."""
    end = MAX_LINE_BYTES
    # Back off over continuation bytes (10xxxxxx), at most three, to a character start.
    while end > MAX_LINE_BYTES - 3 and raw[end] & 0xC0 == 0x80:
        end -= 1
    return raw[:end]


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line's bytes (at most ``MAX_LINE_BYTES``) and whether the rest of it was cut."""

    data: bytes
    cut: bool = False


class LineSplitter:
    """Splits one stream's bytes on ``\\n``, ``\\r`` and ``\\r\\n``, holding at most one cut line.

    An empty line ended by ``\\r`` is dropped (a terminal would show nothing for it); an empty
    line ended by ``\\n`` is a real blank line.
    """

    __slots__ = ("_after_cr", "_discarding", "_pending")

    def __init__(self) -> None:
        self._pending = b""
        self._discarding = False
        self._after_cr = False

    def feed(self, data: bytes) -> Iterator[RawLine]:
        """The lines completed by ``data``, plus any line that grew past the limit."""
        if not data:
            return  # an empty read changes nothing: a "\r" before it may still meet its "\n"
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = False
        if b"\r" not in data:  # the common case, split in C: a flood of short lines stays cheap
            yield from self._split_newlines(data)
            return
        start = 0
        size = len(data)
        while start < size:
            end = _next_terminator(data, start)
            if end < 0:
                yield from self._hold(data[start:])
                return
            yield from self._complete(data[start:end], by_cr=data[end] == 0x0D)
            start = end + 1
            if data[end] == 0x0D:
                if start == size:
                    self._after_cr = True
                elif data[start] == 0x0A:
                    start += 1

    def holds(self, needle: bytes) -> bool:
        """Whether the unfinished line held here contains ``needle``."""
        return needle in self._pending

    @property
    def held(self) -> int:
        """Bytes of an unfinished line held here: never more than ``MAX_LINE_BYTES``."""
        return len(self._pending)

    def _split_newlines(self, data: bytes) -> Iterator[RawLine]:
        *complete, rest = data.split(b"\n")
        if complete:
            yield from self._complete(complete[0], by_cr=False)
            for line in complete[1:]:
                yield RawLine(_cut(line), cut=True) if len(line) > MAX_LINE_BYTES else RawLine(line)
        yield from self._hold(rest)

    def feed_some(self, data: bytes, keep: int) -> tuple[list[RawLine], int]:
        """Like ``feed`` when all but ``keep`` lines will be dropped: those, and how many more.

        Only for ``data`` with no ``\r`` (``feed`` it otherwise). The lines past ``keep`` cost a
        ``bytes.count`` instead of an object each, which is what keeps a flood cheap.
        """
        if not data:
            return [], 0
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = False
        kept: list[RawLine] = []
        start = 0
        while len(kept) < keep:
            end = data.find(b"\n", start)
            if end < 0:
                kept.extend(self._hold(data[start:]))
                return kept, 0
            kept.extend(self._complete(data[start:end], by_cr=False))
            start = end + 1
        last = data.rfind(b"\n", start)
        if last < 0:
            return kept, sum(1 for _ in self._hold(data[start:]))
        completed = data.count(b"\n", start, last + 1) - (1 if self._discarding else 0)
        self._pending = b""
        self._discarding = False
        return kept, completed + sum(1 for _ in self._hold(data[last + 1 :]))

    def finish(self) -> Iterator[RawLine]:
        """At end of stream: the partial last line, if there is one."""
        if self._pending:
            yield RawLine(self._pending)
        self._pending = b""
        self._discarding = False

    def _hold(self, piece: bytes) -> Iterator[RawLine]:
        if self._discarding:
            return
        self._pending += piece
        if len(self._pending) > MAX_LINE_BYTES:
            yield RawLine(_cut(self._pending), cut=True)
            self._pending = b""
            self._discarding = True

    def _complete(self, piece: bytes, *, by_cr: bool) -> Iterator[RawLine]:
        if self._discarding:
            self._discarding = False
            return
        line = self._pending + piece if self._pending else piece
        self._pending = b""
        if len(line) > MAX_LINE_BYTES:
            yield RawLine(_cut(line), cut=True)
        elif line or not by_cr:
            yield RawLine(line)


def _next_terminator(data: bytes, start: int) -> int:
    newline = data.find(b"\n", start)
    carriage = data.find(b"\r", start, newline if newline >= 0 else len(data))
    return carriage if carriage >= 0 else newline


# --- the budget ---------------------------------------------------------------------------


class RateBudget:
    """A token bucket for output lines on an injected clock: excess lines are counted, not kept.

    Once lines were dropped, the next admitted line is preceded by one ``"... N lines skipped"``
    line per stream (it costs a token too); ``flush`` brings a pending count out at any time.
    """

    __slots__ = ("_burst", "_last", "_rate", "_skipped", "_tokens", "dropped")

    def __init__(self, rate: float = LINES_PER_SECOND, burst: float | None = None) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._burst = rate if burst is None else burst
        self._tokens = self._burst
        self._last: float | None = None
        self._skipped: dict[Stream, int] = {}
        self.dropped = 0
        """Lines dropped since the start, reported or not: it only grows."""

    def admit(self, stream: Stream, now: float) -> tuple[list[OutputLine], bool]:
        """The skip notices to show before a line on ``stream``, and whether the line may show."""
        self._refill(now)
        notices: list[OutputLine] = []
        if self._skipped and self._tokens >= 1:
            notices = self._notices()
            self._tokens -= len(notices)
        if self._tokens < 1:
            self._skipped[stream] = self._skipped.get(stream, 0) + 1
            self.dropped += 1
            return notices, False
        self._tokens -= 1
        return notices, True

    def allowance(self, now: float) -> int:
        """How many lines arriving at ``now`` could be shown (skip notices count too)."""
        self._refill(now)
        return max(0, int(self._tokens))

    def drop(self, stream: Stream, count: int) -> None:
        """Count ``count`` lines on ``stream`` as dropped (those past the ``allowance``)."""
        if count > 0:
            self._skipped[stream] = self._skipped.get(stream, 0) + count
            self.dropped += count

    def flush(self) -> list[OutputLine]:
        """The pending skip notices, now (at a quiet moment or at the end of the run)."""
        return self._notices()

    @property
    def skipped(self) -> int:
        """Lines dropped and not yet reported."""
        return sum(self._skipped.values())

    def _refill(self, now: float) -> None:
        if self._last is not None and now > self._last:
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        if self._last is None or now > self._last:
            self._last = now

    def _notices(self) -> list[OutputLine]:
        notices = [skipped_line(stream, n) for stream, n in self._skipped.items()]
        self._skipped.clear()
        return notices


def skipped_line(stream: Stream, count: int) -> OutputLine:
    """The line that stands for ``count`` dropped lines."""
    noun = "line" if count == 1 else "lines"
    return OutputLine(stream, f"... {count:,} {noun} skipped")


# --- both streams -------------------------------------------------------------------------


class OutputParser:
    """One job run's stdout and stderr, parsed into output lines and reports, in order."""

    __slots__ = ("_budget", "_splitters")

    def __init__(self, budget: RateBudget | None = None) -> None:
        self._budget = budget or RateBudget()
        self._splitters: dict[Stream, LineSplitter] = {"out": LineSplitter(), "err": LineSplitter()}

    def feed(self, stream: Stream, data: bytes, now: float) -> list[ParsedLine]:
        """What ``data``, read from ``stream`` at ``now``, completes."""
        splitter = self._splitters[stream]
        if _may_report(stream, data, splitter):
            return self._parse(stream, splitter.feed(data), now)
        kept, dropped = splitter.feed_some(data, self._budget.allowance(now))
        parsed = self._parse(stream, iter(kept), now)
        self._budget.drop(stream, dropped)
        return parsed

    def finish(self, stream: Stream, now: float) -> list[ParsedLine]:
        """At the end of ``stream``: its partial last line."""
        return self._parse(stream, self._splitters[stream].finish(), now)

    def flush(self) -> list[OutputLine]:
        """The count of dropped lines not yet reported, as lines."""
        return self._budget.flush()

    @property
    def skipped(self) -> int:
        """Lines dropped and not yet reported."""
        return self._budget.skipped

    @property
    def dropped(self) -> int:
        """Lines dropped since the run began: it grows while the job prints over the budget."""
        return self._budget.dropped

    def _parse(self, stream: Stream, raws: Iterator[RawLine], now: float) -> list[ParsedLine]:
        parsed: list[ParsedLine] = []
        for raw in raws:
            report = None if raw.cut else parse_report(raw.data)
            if report is None and stream == "err" and b"%|" in raw.data:
                report = parse_tqdm(decode_text(raw.data))
            if report is not None:
                parsed.append(report)
                continue
            notices, admitted = self._budget.admit(stream, now)
            parsed.extend(notices)
            if admitted:
                text = decode_text(raw.data)
                parsed.append(OutputLine(stream, text + CUT_MARKER if raw.cut else text))
        return parsed


def _may_report(stream: Stream, data: bytes, splitter: LineSplitter) -> bool:
    """Whether ``data`` could hold a report or a bar, or needs ``\r`` handling: parse it all."""
    if b"\r" in data or b"{" in data or splitter.holds(b"{"):
        return True
    return stream == "err" and (b"%|" in data or splitter.holds(b"%"))
