"""The refusal summary: at most one line per interval, however late its timer runs."""

from __future__ import annotations

import asyncio
import logging
import time

from calc_server.auth_limits import RefusalLog

INTERVAL = 0.05


class Stamps(logging.Handler):
    """The monotonic time of each summary line, taken as it is written."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.at: list[float] = []
        self.expected = expected
        self.all_written = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.at.append(time.monotonic())
        if len(self.at) == self.expected:
            self.all_written.set()


async def test_a_refusal_that_comes_when_the_timer_is_due_does_not_make_two_lines() -> None:
    stamps = Stamps(expected=3)
    gate = logging.getLogger("calc_server.gate")
    gate.addHandler(stamps)
    refusals = RefusalLog(INTERVAL)
    try:
        refusals.record(401, "127.0.0.1")  # the first line, at once
        refusals.record(429, "127.0.0.1")  # counted; its line waits for the timer
        # hold the loop (deliberately blocking) so the timer is due and has not run
        time.sleep(INTERVAL * 2)  # noqa: ASYNC251
        refusals.record(429, "127.0.0.1")  # due: writes the line itself
        refusals.record(429, "127.0.0.1")  # counted for the next line
        async with asyncio.timeout(30):  # a bound on a failure only
            await stamps.all_written.wait()
        refusals.stop()
    finally:
        gate.removeHandler(stamps)
    assert len(stamps.at) == 3
    gaps = [b - a for a, b in zip(stamps.at, stamps.at[1:], strict=False)]
    assert all(gap >= INTERVAL for gap in gaps), gaps
