"""The app's reactions to exact server messages, fed through the handlers a connection uses."""

from __future__ import annotations

from calc_client.reconnect import Connected, Connecting, Disconnected
from calc_tui.messages import ConnectionReported
from calc_tui.status import ConnectionStatus
from calc_tui.text import CLUSTER_DEGRADED
from calc_tui.widgets.connection_indicator import ConnectionIndicator
from calc_tui.widgets.event_log import EventLog
from calc_tui.widgets.presence import PresenceCount
from calc_tui.widgets.progress_panel import ProgressPanel
from protocol import Ack, ClusterStatus, Error, Phase, Presence
from tests.tui.helpers import Toasts, fed_app, received, state, wait_for, welcome


def log_lines(log: EventLog) -> list[str]:
    return [strip.text.rstrip() for strip in log.lines]


async def test_a_state_not_newer_than_the_last_is_ignored() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        shown: list[tuple[int, Phase]] = []
        app.watch(app, "calc", lambda s: s and shown.append((s.seq, s.state)), init=False)
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IN_PROGRESS, 5, stage=1)))
        app.post_message(received(state(Phase.STARTING, 4, stage=0)))
        app.post_message(received(state(Phase.SUCCESS, 5, stage=3)))
        app.post_message(received(state(Phase.ALMOST_DONE, 6, stage=2)))
        await wait_for(pilot, lambda: app.calc is not None and app.calc.seq == 6)
        assert shown == [(5, Phase.IN_PROGRESS), (6, Phase.ALMOST_DONE)]


async def test_new_epoch_after_reconnect_says_restarted_and_interrupted() -> None:
    toasts = Toasts()
    app = fed_app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IN_PROGRESS, 7, stage=1)))
        app.post_message(ConnectionReported(Disconnected("connection lost", 1, 0.1)))
        app.post_message(ConnectionReported(Connecting(1)))
        app.post_message(ConnectionReported(Connected(welcome(epoch="epoch-2"))))
        app.post_message(received(state(Phase.IDLE, 0, epoch="epoch-2")))
        await wait_for(pilot, lambda: app.calc is not None and app.calc.epoch == "epoch-2")

        assert toasts.titled("Server restarted") == [
            "The server restarted. The calculation that was running was interrupted."
        ]
        assert app.calc is not None
        assert app.calc.state is Phase.IDLE


async def test_same_epoch_after_reconnect_is_not_a_restart() -> None:
    toasts = Toasts()
    app = fed_app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IN_PROGRESS, 7, stage=1)))
        app.post_message(ConnectionReported(Disconnected("connection lost", 1, 0.1)))
        app.post_message(ConnectionReported(Connected(welcome(client_id="c9"))))
        app.post_message(received(state(Phase.ALMOST_DONE, 8, stage=2)))
        await wait_for(pilot, lambda: app.calc is not None and app.calc.seq == 8)
        assert toasts.titled("Server restarted") == []


async def test_disconnected_state_stays_dimmed_and_the_bar_stops() -> None:
    now = [1000.0]
    app = fed_app(clock=lambda: now[0])
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IN_PROGRESS, 2, stage=1, stage_duration=2.0)))
        await wait_for(pilot, lambda: app.calc is not None)
        now[0] += 1.0  # half of stage 2 of 3
        await wait_for(pilot, lambda: abs(app.progress.fraction - 0.5) < 1e-9, what="0.5")

        app.post_message(ConnectionReported(Disconnected("connection lost", 0, 1.0)))
        await wait_for(pilot, lambda: not app.link_status.connected)
        now[0] += 0.5  # time passes, a retry fails: the bar must not move
        app.post_message(ConnectionReported(Connecting(1)))
        app.post_message(ConnectionReported(Disconnected("cannot connect", 1, 1.0)))
        await wait_for(pilot, lambda: app.link_status.reason == "cannot connect")
        assert abs(app.progress.fraction - 0.5) < 1e-9
        assert app.query_one(ProgressPanel).has_class("-stale")
        assert app.calc is not None
        assert app.calc.state is Phase.IN_PROGRESS
        assert app.link_status.link is ConnectionStatus.RECONNECTING
        assert not app.busy


async def test_server_text_is_shown_as_plain_text() -> None:
    toasts = Toasts()
    app = fed_app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        app.post_message(received(state(Phase.IDLE, 0)))
        app.post_message(
            received(state(Phase.STARTING, 1, started_by="[b]eve[/b]\x1b[31m\x07 (c1)"))
        )
        app.post_message(received(Error(code="bad_message", message="[red]oops\r\n[/red]")))
        await wait_for(pilot, lambda: len(toasts.seen) == 1)

        notification = toasts.seen[0].notification
        assert notification.message == "[red]oops [/red]"
        assert notification.markup is False
        assert notification.severity == "error"
        detail = str(app.query_one(ProgressPanel).query_one("#detail").render())
        assert "started by [b]eve[/b][31m (c1)" in detail
        assert "\x1b" not in detail
        assert "\x07" not in detail
        assert "started by [b]eve[/b][31m (c1)" in "\n".join(log_lines(app.query_one(EventLog)))


async def test_rejections_and_presence_in_plain_words() -> None:
    toasts = Toasts()
    app = fed_app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        app.post_message(ConnectionReported(Connected(welcome(clients=1))))
        app.post_message(received(state(Phase.IDLE, 0)))
        app.post_message(received(Presence(clients=3)))
        app.post_message(
            received(Ack(request_id="c1-1", accepted=False, reason="not_running", seq=0))
        )
        app.post_message(received(Ack(request_id="c1-2", accepted=False, reason="no_way", seq=0)))
        app.post_message(received(Ack(request_id="c1-3", accepted=True, seq=1)))
        await wait_for(pilot, lambda: len(toasts.seen) == 2)

        assert toasts.texts == [
            "Nothing is running to cancel",
            "The server refused the command: no way",
        ]
        assert str(app.query_one(PresenceCount).render()) == "3 clients connected"


async def test_the_wait_before_a_retry_counts_down_and_failures_are_logged_once() -> None:
    now = [1000.0]
    app = fed_app(clock=lambda: now[0])
    async with app.run_test(size=(80, 24)) as pilot:
        indicator = app.query_one(ConnectionIndicator)
        for attempt in (1, 2):
            app.post_message(ConnectionReported(Connecting(attempt)))
            app.post_message(
                ConnectionReported(Disconnected("cannot connect: refused", attempt, 5.0))
            )
        await wait_for(pilot, lambda: "retry in 5s" in str(indicator.render()))
        assert str(indicator.render()) == (
            "◌ reconnecting (attempt 3, retry in 5s): cannot connect: refused"
        )
        now[0] += 2.5
        await wait_for(pilot, lambda: "retry in 3s" in str(indicator.render()), timeout=2)
        now[0] += 2.2
        await wait_for(pilot, lambda: "retry in 0.3s" in str(indicator.render()), timeout=2)
        assert log_lines(app.query_one(EventLog)) == ["12:00:00       cannot connect: refused"]


async def test_a_degraded_cluster_is_said_in_plain_words_and_so_is_its_return() -> None:
    toasts = Toasts()
    app = fed_app()
    async with app.run_test(size=(80, 24), message_hook=toasts) as pilot:
        app.post_message(ConnectionReported(Connected(welcome(clients=1))))
        app.post_message(received(state(Phase.IDLE, 0)))
        app.post_message(received(ClusterStatus(degraded=True)))
        app.post_message(
            received(Ack(request_id="c1-1", accepted=False, reason="backplane_unavailable", seq=0))
        )
        app.post_message(received(ClusterStatus(degraded=False)))
        await wait_for(pilot, lambda: len(toasts.seen) == 2)
        lines = "\n".join(log_lines(app.query_one(EventLog)))

    assert toasts.titled("Cluster degraded") == [CLUSTER_DEGRADED]
    assert toasts.texts[1] == "The server cannot reach the rest of its cluster right now"
    assert "lost contact with the rest of its" in lines
    assert "back in contact with its cluster" in lines
