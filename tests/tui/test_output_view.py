"""The Output view and the job's state in calc-tui, fed the messages a connection would post."""

from __future__ import annotations

from calc_tui.widgets.output_view import OutputView, render_line
from protocol import OutputLine, Phase
from tests.tui.helpers import fed_app, received, wait_for
from tests.tui.test_job_snapshots import START, job_state, lines


async def test_lines_are_shown_once_gaps_are_said_and_a_new_run_starts_afresh() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(OutputView)
        await pilot.press("o")
        for message in [*START, received(lines(0, "a", "b")), received(lines(1, "b", "c"))]:
            app.post_message(message)
        await wait_for(pilot, lambda: view.next_offset == 3, what="three lines")
        assert [line.text for line in view.lines] == ["a", "b", "c"]
        app.post_message(received(lines(10, "k")))
        await wait_for(pilot, lambda: view.next_offset == 11, what="the line after a gap")
        assert [line.text for line in view.lines][-2:] == ["… 7 lines not received", "k"]
        other = lines(0, "new run")
        other.calculation_id = "another"
        app.post_message(received(other))
        await wait_for(pilot, lambda: view.calculation_id == "another", what="the new run")
        assert [line.text for line in view.lines] == ["new run"]


async def test_a_failed_job_brings_its_last_lines_into_view() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for message in [*START, received(lines(0, "ValueError: bad", stream="err"))]:
            app.post_message(message)
        await wait_for(pilot, lambda: app.query_one(OutputView).next_offset == 1)
        assert app.query_one("#views").active == "events"  # type: ignore[attr-defined]
        app.post_message(received(job_state(Phase.FAILED, 3, exit_code=3, ended_by="exit 3")))
        await wait_for(pilot, lambda: app.calc is not None and app.calc.seq == 3)
        assert app.query_one("#views").active == "output"  # type: ignore[attr-defined]


async def test_keys_switch_between_events_and_output() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        assert app.query_one("#views").active == "output"  # type: ignore[attr-defined]
        await pilot.press("e")
        assert app.query_one("#views").active == "events"  # type: ignore[attr-defined]


def test_hostile_output_renders_colours_and_nothing_else() -> None:
    text = render_line(
        OutputLine(stream="out", text="\x1b]0;title\x07\x1b[2J\x1b[31mred\x1b[0m\x1b[5;5H\u202ex")
    )
    assert text.plain == "redx"
    assert [str(span.style) for span in text.spans] == ["color(1)"]


async def test_the_view_follows_the_tail_batch_after_batch_unless_scrolled_back() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(OutputView)
        await pilot.press("o")
        batches = [
            received(lines(10 * i, *(f"line {10 * i + j}" for j in range(10)))) for i in range(3)
        ]
        for message in [*START, *batches]:
            app.post_message(message)
        await wait_for(pilot, lambda: view.next_offset == 30, what="three batches")
        await pilot.pause()
        assert view.scroll_y > 0
        assert view.is_vertical_scroll_end
        view.scroll_home(animate=False, immediate=True)
        app.post_message(received(lines(30, "one more")))
        await wait_for(pilot, lambda: view.next_offset == 31, what="one more line")
        await pilot.pause()
        assert view.scroll_y == 0  # scrolled back: it stays where the reader is
