"""calc-tui against a real server on loopback: start, stages, cancel, buttons, two apps."""

from __future__ import annotations

import getpass

import pytest
from textual.widgets import Button

from calc_tui.app import CalcApp
from calc_tui.widgets.progress_panel import ProgressPanel
from protocol import Phase
from tests.conftest import ServerFactory
from tests.tui.helpers import Toasts, is_connected, live_app, wait_for

SIZE = (80, 24)


def buttons(app: CalcApp) -> tuple[bool, bool]:
    """(Start enabled, Cancel enabled) as shown on screen."""
    start = app.query_one("#start", Button)
    cancel = app.query_one("#cancel", Button)
    return (not start.disabled, not cancel.disabled)


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

        assert shown == [Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS]
        assert app.calc is not None
        assert app.calc.started_by is not None
        assert app.calc.started_by.startswith(f"{getpass.getuser()}@")
        # The bar moved smoothly between the four snapshots and never went back.
        assert len(set(fractions)) > 8
        assert fractions == sorted(fractions)
        assert fractions[-1] == 1.0
        assert "✓ SUCCESS" in str(panel.query_one("#steps").render())


@pytest.mark.parametrize(
    ("phase", "stage"),
    [(Phase.STARTING, 0), (Phase.IN_PROGRESS, 1), (Phase.ALMOST_DONE, 2)],
)
async def test_cancel_in_each_stage(
    server_factory: ServerFactory, phase: Phase, stage: int
) -> None:
    server = await server_factory(stage_seconds=0.8)
    app = live_app(server.url)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: is_connected(app), what="connected")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state is phase)
        await pilot.press("c")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state is Phase.CANCELED)
        assert app.calc is not None
        assert app.calc.stage == stage
        assert app.calc.ended_by is not None
        assert app.calc.ended_by.startswith(f"{getpass.getuser()}@")
        assert buttons(app) == (True, False)


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

        await pilot.press("s")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state.running)
        assert buttons(app) == (False, True), "running: only Cancel"

        await wait_for(pilot, lambda: app.calc is not None and app.calc.state is Phase.SUCCESS)
        assert buttons(app) == (True, False), "finished: Start again"

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
        await pilot.press("s")
        await wait_for(pilot, lambda: app.calc is not None and app.calc.state.running)
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

        bob_saw: list[Phase] = []
        bob.watch(bob, "calc", lambda s: s and bob_saw.append(s.state), init=False)
        await pa.press("s")
        await wait_for(pb, lambda: Phase.SUCCESS in bob_saw, what="bob sees SUCCESS")
        await wait_for(pa, lambda: alice.calc is not None and alice.calc == bob.calc)

        assert bob_saw == [Phase.STARTING, Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS]
        assert bob.calc is not None
        assert bob.calc.started_by is not None
        assert bob.calc.started_by.startswith("alice")

        await pb.press("s")
        await wait_for(pa, lambda: alice.calc is not None and alice.calc.state.running)
        await pa.press("c")
        await wait_for(pb, lambda: bob.calc is not None and bob.calc.state is Phase.CANCELED)
        assert bob.calc is not None
        assert bob.calc.ended_by is not None
        assert bob.calc.ended_by.startswith("alice")
        assert alice.calc == bob.calc


async def test_a_rejected_start_shows_its_reason(server_factory: ServerFactory) -> None:
    server = await server_factory(stage_seconds=0.5)
    toasts_a, toasts_b = Toasts(), Toasts()
    a = live_app(server.url, name="a")
    b = live_app(server.url, name="b")
    async with (
        a.run_test(size=SIZE, message_hook=toasts_a) as pa,
        b.run_test(size=SIZE, message_hook=toasts_b),
    ):
        await wait_for(pa, lambda: is_connected(a) and is_connected(b), what="both connected")
        # Both press Start before either hears of the other's: the server takes one.
        a.call_later(a.run_action, "start")
        b.call_later(b.run_action, "start")

        def refused() -> list[str]:
            return toasts_a.titled("Start refused") + toasts_b.titled("Start refused")

        await wait_for(pa, lambda: len(refused()) == 1, what="one refusal")
        await wait_for(pa, lambda: not (a.pending_commands or b.pending_commands), what="acks")
        assert refused() == ["A calculation is already running"]
        assert a.calc is not None
        assert a.calc.state.running
