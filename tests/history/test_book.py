"""The pure bookkeeping of open runs: events in, whole records out."""

from __future__ import annotations

import pytest

from calc_server.history.book import RunBook
from calc_server.history.records import (
    MAX_LINE_CHARS,
    OUTPUT_TAIL_LINES,
    OutputLine,
    RunOutcome,
)


def test_stage_times_are_the_gaps_between_stage_changes_and_the_end() -> None:
    book = RunBook()
    book.start("a", "alice", 100.0, None)
    book.stage("a", 1, 101.5)
    book.stage("a", 2, 104.0)
    record = book.end(
        "a", RunOutcome.SUCCESS, None, 110.0, exit_code=None, last_message=None, output_tail=()
    )
    assert record is not None
    assert record.stage_seconds == (1.5, 2.5, 6.0)
    assert record.duration == 10.0
    assert "a" not in book.open


def test_a_repeated_or_unknown_stage_change_changes_nothing() -> None:
    book = RunBook()
    book.start("a", "alice", 100.0, None)
    assert book.stage("a", 1, 101.0) is not None
    assert book.stage("a", 1, 102.0) is None
    assert book.stage("nope", 1, 102.0) is None
    assert book.open["a"].record.stage_seconds == (1.0,)


def test_a_cancel_closes_the_stage_in_progress_and_a_backwards_clock_gives_zero() -> None:
    book = RunBook()
    book.start("a", "alice", 100.0, None)
    book.stage("a", 1, 99.0)  # the wall clock stepped back
    record = book.end(
        "a", RunOutcome.CANCELED, "bob", 103.0, exit_code=None, last_message=None, output_tail=()
    )
    assert record is not None
    assert record.stage_seconds == (0.0, 4.0)
    assert record.ended_by == "bob"


def test_ending_a_run_that_is_not_open_gives_nothing_and_counts_nothing() -> None:
    book = RunBook()
    end = book.end(
        "ghost", RunOutcome.FAILED, None, 1.0, exit_code=1, last_message=None, output_tail=()
    )
    assert end is None
    assert sum(book.ended.values()) == 0


@pytest.mark.parametrize("outcome", list(RunOutcome))
def test_each_end_is_counted_by_outcome(outcome: RunOutcome) -> None:
    book = RunBook()
    book.start("a", "alice", 1.0, None)
    book.end("a", outcome, None, 2.0, exit_code=None, last_message=None, output_tail=())
    assert book.ended == {outcome: 1}


def test_only_the_last_lines_of_output_are_kept_each_cut_to_length() -> None:
    book = RunBook()
    book.start("a", "alice", 1.0, "make")
    lines = [OutputLine("out", f"line {i}") for i in range(OUTPUT_TAIL_LINES + 30)]
    lines.append(OutputLine("err", "x" * (MAX_LINE_CHARS + 500)))
    record = book.end(
        "a", RunOutcome.FAILED, None, 2.0, exit_code=2, last_message="oops", output_tail=lines
    )
    assert record is not None
    assert len(record.output_tail) == OUTPUT_TAIL_LINES
    assert record.output_tail[0] == OutputLine("out", "line 31")
    assert record.output_tail[-1] == OutputLine("err", "x" * MAX_LINE_CHARS)
    assert (record.command, record.exit_code, record.last_message) == ("make", 2, "oops")
