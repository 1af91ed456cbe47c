"""calc-tui against a real server on loopback: start, stages, cancel, buttons, two apps.

Every stage the app passes through is recorded as it is shown (``shown_states``), so no test
depends on looking at the right moment; a test that must act inside one stage gets longer
stages until its action lands there (``with_longer_stages``); a test that acts on a running
calculation uses stages it cannot outlast.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

import pytest
from textual.widgets import Button

from calc_server.runner import RunningServer
from calc_tui.app import CalcApp
from calc_tui.widgets.progress_panel import ProgressPanel
from protocol import Phase, State
from tests.conftest import LONG_STAGE, ServerFactory, both_presence_delays, with_longer_stages
from tests.tui.helpers import Toasts, is_connected, live_app, shown_states, wait_for

pytestmark = both_presence_delays
"""Each test against a server with the presence delay and one without."""

SIZE = (80, 24)
RUN = [Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS]


def buttons(app: CalcApp) -> tuple[bool, bool]:
    """(Start enabled, Cancel enabled) as shown on screen."""
    start = app.query_one("#start", Button)
    cancel = app.query_one("#cancel", Button)
    return (not start.disabled, not cancel.disabled)


def phases(shown: list[State]) -> list[Phase]:
    return [s.state for s in shown]


async def test_start_shows_every_stage_then_success(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=0.5)
    app = live_app(server.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        panel = app.query_one(ProgressPanel)
        shown: list[Phase] = []
        fractions: list[float] = []
        app.watch(panel, "state", lambda s: s and shown.append(s.state), init=False)
        app.watch(panel, "progress", lambda p: fractions.append(p.fraction), init=False)

        await pilot.press("s")
        await wait_for(pilot, lambda: Phase.SUCCESS in shown, what="SUCCESS")

        assert shown == RUN
        assert app.calc is not None
        assert app.calc.started_by is not None
        assert app.calc.started_by.startswith(f"{getpass.getuser()}@")
        # the bar never went back, and ended full
        assert fractions == sorted(fractions)
        assert fractions[-1] == 1.0
        assert "✓ SUCCESS" in str(panel.query_one("#steps").render())


async def test_the_bar_moves_smoothly_within_a_stage(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=LONG_STAGE)
    app = live_app(server.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        fractions: list[float] = []
        app.watch(app, "progress", lambda p: fractions.append(p.fraction), init=False)
        await pilot.press("s")
        # between the STARTING snapshot and the next one the bar is redrawn many times, each
        # time a little further: one snapshot, many positions
        inside = 8
        await wait_for(pilot, lambda: len({f for f in fractions if f > 0}) >= inside)
        moving = [f for f in fractions if f > 0]
        assert moving == sorted(moving)
        assert all(0 < f < 1 / 3 for f in moving)
        assert app.calc is not None
        assert app.calc.state is Phase.STARTING


@dataclass
class CanceledFromApp:
    """What the app showed after its cancel landed."""

    calc: State
    buttons: tuple[bool, bool]


async def cancel_from_app(server: RunningServer, phase: Phase) -> CanceledFromApp | None:
    """Start with ``s``, press ``c`` once ``phase`` is shown; None if it landed later."""
    app = live_app(server.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        shown = shown_states(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: phase in phases(shown), what=phase)
        await pilot.press("c")
        await wait_for(pilot, lambda: any(s.state.terminal for s in shown), what="the end")
        calc = app.calc
        assert calc is not None
        if calc.state is Phase.CANCELED and calc.stage == RUN.index(phase):
            await wait_for(pilot, lambda: not app.pending_commands, what="the ack")
            return CanceledFromApp(calc, buttons(app))
    return None


@pytest.mark.parametrize(
    ("phase", "stage"),
    [(Phase.STARTING, 0), (Phase.IN_PROGRESS, 1), (Phase.ALMOST_DONE, 2)],
)
async def test_cancel_in_each_stage(
    server_factory: ServerFactory, phase: Phase, stage: int
) -> None:
    canceled = await with_longer_stages(
        server_factory, 0.8, lambda server, _: cancel_from_app(server, phase)
    )
    assert canceled.calc.stage == stage
    assert canceled.calc.ended_by is not None
    assert canceled.calc.ended_by.startswith(f"{getpass.getuser()}@")
    assert canceled.buttons == (True, False)


async def test_buttons_follow_state_and_connection(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=0.3)
    port = server.port
    app = live_app(server.url)
    toasts = Toasts()
    async with app.run_test(size=SIZE, message_hook=toasts) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        assert buttons(app) == (True, False), "idle and connected: only Start"
        assert app.calc is not None
        first_epoch = app.calc.epoch

        # the buttons as they were at each snapshot, taken as the app showed it
        seen: list[tuple[Phase, tuple[bool, bool]]] = []

        def record(state: State | None) -> None:
            if state is not None and app.is_running:  # not while the app shuts down
                seen.append((state.state, buttons(app)))

        app.watch(app, "calc", record, init=False)
        await pilot.press("s")
        await wait_for(pilot, lambda: Phase.SUCCESS in [p for p, _ in seen], what="SUCCESS")
        assert seen == [
            (Phase.STARTING, (False, True)),
            (Phase.IN_PROGRESS, (False, True)),
            (Phase.ALMOST_DONE, (False, True)),
            (Phase.SUCCESS, (True, False)),
        ], "running: only Cancel; finished: Start again"

        await server.stop()
        await wait_for(pilot, lambda: not app.link_status.connected, what="disconnected")
        assert buttons(app) == (False, False), "disconnected: neither"
        assert app.check_action("start", ()) is None
        await pilot.press("s")  # ignored, and not queued for later
        assert not app.busy

        await server_factory(port=port, stage_seconds=0.3)
        await wait_for(pilot, lambda: is_connected(app) and app.calc.epoch != first_epoch)
        assert buttons(app) == (True, False)
        assert app.calc is not None
        assert app.calc.state is Phase.IDLE

        # Had the key press been queued, this start would be the second one and be refused.
        shown = shown_states(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: Phase.STARTING in phases(shown), what="started")
        await wait_for(pilot, lambda: not app.pending_commands, what="the ack")
        assert toasts.titled("Start refused") == []


async def test_buttons_disabled_before_the_first_connection(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory()
    url = server.url
    await server.stop()  # nothing listens there now
    app = live_app(url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.link_status.attempt >= 2, what="a retry")
        assert buttons(app) == (False, False)
        assert not app.link_status.connected


async def test_two_apps_stay_in_step(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=0.5)
    alice = live_app(server.url, name="alice")
    bob = live_app(server.url, name="bob")
    async with alice.run_test(size=SIZE) as pa, bob.run_test(size=SIZE) as pb:
        await wait_for(pa, lambda: is_connected(alice) and alice.clients == 2, what="alice")
        await wait_for(pb, lambda: is_connected(bob) and bob.clients == 2, what="bob")

        bob_saw = shown_states(bob)
        await pa.press("s")
        await wait_for(pb, lambda: Phase.SUCCESS in phases(bob_saw), what="bob sees SUCCESS")
        await wait_for(pa, lambda: alice.calc is not None and alice.calc == bob.calc)

        assert phases(bob_saw) == RUN
        assert bob.calc is not None
        assert bob.calc.started_by is not None
        assert bob.calc.started_by.startswith("alice")


async def test_one_app_cancels_what_the_other_started(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=LONG_STAGE)
    alice = live_app(server.url, name="alice")
    bob = live_app(server.url, name="bob")
    async with alice.run_test(size=SIZE) as pa, bob.run_test(size=SIZE) as pb:
        await wait_for(pa, lambda: is_connected(alice) and alice.clients == 2, what="alice")
        await wait_for(pb, lambda: is_connected(bob) and bob.clients == 2, what="bob")

        await pb.press("s")
        await wait_for(pa, lambda: alice.calc is not None and alice.calc.state.running)
        await pa.press("c")
        await wait_for(pb, lambda: bob.calc is not None and bob.calc.state is Phase.CANCELED)
        assert bob.calc is not None
        assert bob.calc.started_by is not None
        assert bob.calc.started_by.startswith("bob")
        assert bob.calc.ended_by is not None
        assert bob.calc.ended_by.startswith("alice")
        await wait_for(pa, lambda: alice.calc == bob.calc, what="alice in step")


async def test_a_rejected_start_shows_its_reason(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=LONG_STAGE)
    toasts_a, toasts_b = Toasts(), Toasts()
    a = live_app(server.url, name="a")
    b = live_app(server.url, name="b")
    async with (
        a.run_test(size=SIZE, message_hook=toasts_a) as pa,
        b.run_test(size=SIZE, message_hook=toasts_b) as pb,
    ):
        await wait_for(pa, lambda: is_connected(a), what="a connected")
        await wait_for(pb, lambda: is_connected(b), what="b connected")
        # Both press Start before either hears of the other's: the server takes one.
        a.call_later(a.run_action, "start")
        b.call_later(b.run_action, "start")

        def refused() -> list[str]:
            return toasts_a.titled("Start refused") + toasts_b.titled("Start refused")

        def answered(app: CalcApp) -> bool:
            return app.calc is not None and app.calc.state.running and not app.pending_commands

        await wait_for(pa, lambda: answered(a), what="a's answer")
        await wait_for(pb, lambda: answered(b), what="b's answer")
        # the refusal's toast may be b's: a's bar, redrawn while the calculation runs, keeps
        # waking this wait
        await wait_for(pa, lambda: len(refused()) == 1, what="one refusal")
        assert refused() == ["A calculation is already running"]
        assert a.calc is not None
        assert a.calc.state.running
