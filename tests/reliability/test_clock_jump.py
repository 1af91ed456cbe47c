"""Case 9: the wall clock jumping hours forward and back changes no stage duration.

``time.time`` (and ``time.time_ns``) are replaced for the whole run by a clock that the test
throws forward and back by hours at every transition, and that also wobbles on every single
read. The server's deadlines come from the event loop's monotonic clock, so each stage still
lasts its 0.2 s, measured on that monotonic clock at the receiving client, give or take how
late the loop ran its callbacks (milliseconds on a quiet machine, never hours).
"""

from __future__ import annotations

import itertools
import time

import pytest

from protocol import Phase, Start, State, Welcome
from tests.conftest import ServerFactory, both_presence_delays
from tests.looplag import LoopLag
from tests.wsclient import RawClient

pytestmark = both_presence_delays
"""Each test against a server with the presence delay and one without."""

STAGE = 0.2
HOUR = 3600.0
JUMPS = {
    Phase.STARTING: 3 * HOUR,
    Phase.IN_PROGRESS: -27 * HOUR,
    Phase.ALMOST_DONE: 400 * 24 * HOUR,
}
"""When the client sees this state, the wall clock jumps by that much."""


class JumpingWallClock:
    """A wall clock that is off by ``offset`` plus a wobble of up to an hour per read."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._real = time.time
        self._wobble = itertools.cycle([0.0, HOUR, -HOUR, 0.5 * HOUR, -0.25 * HOUR])
        self.reads = 0

    def time(self) -> float:
        self.reads += 1
        return self._real() + self.offset + next(self._wobble)

    def time_ns(self) -> int:
        return int(self.time() * 1e9)


async def test_wall_clock_jumps_do_not_change_stage_durations(
    server_factory: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    wall = JumpingWallClock()
    monkeypatch.setattr(time, "time", wall.time)
    monkeypatch.setattr(time, "time_ns", wall.time_ns)
    server = await server_factory(stage_seconds=STAGE)
    client = await RawClient.open(server.url)
    try:
        await client.expect(Welcome, since=0)
        await client.expect(State, since=0)
        arrivals: dict[Phase, float] = {}
        seen: dict[Phase, State] = {}
        async with LoopLag() as lag:
            sent = await client.send(Start(request_id="go"))
            for phase in (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS):
                seen[phase] = await client.expect(
                    State, lambda s, p=phase: s.state is p, since=sent
                )
                arrivals[phase] = client.arrival(seen[phase])
                wall.offset += JUMPS.get(phase, 0.0)
    finally:
        await client.close()

    durations = [
        arrivals[b] - arrivals[a]
        for a, b in itertools.pairwise(
            (Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS)
        )
    ]
    print(
        f"\nFIGURES clock jump: wall clock moved {wall.offset / HOUR:+.0f}h in three jumps "
        f"and wobbled on each of its {wall.reads} reads; stage durations "
        f"{', '.join(f'{d:.3f}s' for d in durations)} (stage {STAGE}s, the loop ran up to "
        f"{lag.worst * 1e3:.0f}ms late)"
    )
    # each end of a duration is one timer and one read, either of which may run late
    for duration in durations:
        assert duration == pytest.approx(STAGE, abs=lag.allowance(stalls=2)), durations
    total = arrivals[Phase.SUCCESS] - arrivals[Phase.STARTING]
    assert total == pytest.approx(3 * STAGE, abs=lag.allowance(stalls=2))
    for state in seen.values():
        assert state.stage_duration == STAGE
        assert 0.0 <= state.stage_elapsed <= STAGE
    # each transition is stamped at (about) the start of its stage, not hours away
    assert all(seen[p].stage_elapsed <= lag.allowance() for p in JUMPS)
