"""The pure parts: progress interpolation and plain words."""

from __future__ import annotations

import pytest

from calc_tui.progress import IDLE, progress_at
from calc_tui.text import describe_error, describe_rejection, plain, seconds
from protocol import ErrorCode, Phase
from tests.tui.helpers import state


def test_progress_interpolates_within_a_stage_from_the_time_since_arrival() -> None:
    s = state(Phase.IN_PROGRESS, 2, stage=1, stage_elapsed=0.5, stage_duration=2.0)
    assert progress_at(s, 0.0).fraction == pytest.approx(1.25 / 3)
    later = progress_at(s, 1.0)
    assert later.fraction == pytest.approx(1.75 / 3)
    assert later.elapsed == pytest.approx(3.5)
    assert later.remaining == pytest.approx(2.5)


def test_progress_never_runs_past_the_stage_it_was_told_about() -> None:
    s = state(Phase.STARTING, 1, stage=0, stage_elapsed=1.5, stage_duration=2.0)
    assert progress_at(s, 60.0).fraction == pytest.approx(1 / 3)


def test_stopped_calculations_do_not_move() -> None:
    canceled = state(Phase.CANCELED, 4, stage=2, stage_elapsed=1.0, stage_duration=2.0)
    assert progress_at(canceled, 0.0) == progress_at(canceled, 30.0)
    assert progress_at(canceled, 30.0).fraction == pytest.approx(5 / 6)
    assert progress_at(canceled, 30.0).remaining is None
    assert progress_at(state(Phase.SUCCESS, 4, stage=3), 5.0).fraction == 1.0
    assert progress_at(state(Phase.IDLE, 0), 5.0) == IDLE


def test_plain_removes_control_and_bidi_characters_and_keeps_brackets() -> None:
    assert plain("a\x1b[31mb\x07c") == "a[31mbc"
    assert plain("[b]x[/b]\u202eevil") == "[b]x[/b]evil"
    assert plain("two\nlines\r\n") == "two lines"
    assert plain("x" * 300, 10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("already_running", "A calculation is already running"),
        ("not_running", "Nothing is running to cancel"),
        ("stale_calculation", "That calculation has already ended"),
        ("brand_new\x1b", "The server refused the command: brand new"),
        (None, "The server refused the command"),
    ],
)
def test_rejections_in_plain_words(reason: str | None, words: str) -> None:
    assert describe_rejection(reason) == words


def test_seconds() -> None:
    assert seconds(4.25) == "4.2s"
    assert seconds(65) == "1:05"


def test_rate_limited_is_an_error_explained_in_our_words() -> None:
    assert describe_error(ErrorCode.RATE_LIMITED, "too many messages") == (
        "Too many commands; slow down"
    )
    assert describe_error("bad_message", "[red]oops\r\n") == "[red]oops"
    assert describe_rejection(ErrorCode.RATE_LIMITED).startswith("The server refused the command:")
