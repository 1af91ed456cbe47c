"""The pure state machine, driven by an injected clock: no sockets, no event loop."""

from __future__ import annotations

import itertools

import pytest

from calc_server.calculation import Calculation
from protocol import Phase

D = 2.0


def make() -> Calculation:
    ids = itertools.count(1)
    return Calculation(epoch="e", stage_duration=D, new_id=lambda: f"calc{next(ids)}")


def test_starts_idle_at_seq_zero() -> None:
    calc = make()
    snap = calc.snapshot(now=100.0)
    assert (snap.seq, snap.state, snap.calculation_id, snap.stage) == (0, Phase.IDLE, None, 0)
    assert calc.deadline() is None


def test_start_enters_starting_at_once_with_deadlines_on_the_grid() -> None:
    calc = make()
    outcome = calc.start(10.0, "alice")
    assert outcome.accepted
    [change] = outcome.changes
    assert (change.state, change.seq, change.started_by) == (Phase.STARTING, 1, "alice")
    assert calc.deadline() == 10.0 + D


def test_full_run_transitions_at_each_stage_boundary() -> None:
    calc = make()
    calc.start(10.0, "a")
    assert calc.advance(11.999) == []
    seen = [s.state for t in (12.0, 14.0, 16.0) for s in calc.advance(t)]
    assert seen == [Phase.IN_PROGRESS, Phase.ALMOST_DONE, Phase.SUCCESS]
    final = calc.snapshot(99.0)
    assert (final.state, final.stage, final.seq) == (Phase.SUCCESS, 3, 4)
    assert calc.deadline() is None


def test_late_advance_catches_up_one_change_per_stage_without_drift() -> None:
    calc = make()
    calc.start(0.0, "a")
    changes = calc.advance(5.0)  # a timer 3 s late: two transitions are due
    assert [(c.state, c.seq) for c in changes] == [
        (Phase.IN_PROGRESS, 2),
        (Phase.ALMOST_DONE, 3),
    ]
    assert calc.deadline() == 6.0  # still on the grid, lateness not accumulated


@pytest.mark.parametrize("at", [0.5, 2.5, 4.5])
def test_cancel_in_each_running_stage(at: float) -> None:
    calc = make()
    calc.start(0.0, "a")
    outcome = calc.cancel(at, "bob")
    assert outcome.accepted
    final = outcome.changes[-1]
    assert (final.state, final.ended_by) == (Phase.CANCELED, "bob")
    assert final.stage == int(at // D)
    assert final.stage_elapsed == pytest.approx(at % D)
    assert calc.deadline() is None
    assert calc.advance(100.0) == []  # nothing follows CANCELED


def test_cancel_at_the_final_deadline_loses_to_success() -> None:
    calc = make()
    calc.start(0.0, "a")
    outcome = calc.cancel(3 * D, "late")
    assert not outcome.accepted
    assert outcome.reason == "not_running"
    assert [c.state for c in outcome.changes][-1] is Phase.SUCCESS


def test_cancel_just_before_the_final_deadline_wins() -> None:
    calc = make()
    calc.start(0.0, "a")
    calc.advance(4.0)
    outcome = calc.cancel(3 * D - 1e-9, "quick")
    assert outcome.accepted
    assert calc.snapshot(10.0).state is Phase.CANCELED
    assert calc.advance(3 * D) == []


def test_rejections_carry_their_reason() -> None:
    calc = make()
    assert calc.cancel(0.0, "a").reason == "not_running"
    calc.start(0.0, "a")
    again = calc.start(0.1, "b")
    assert (again.accepted, again.reason, again.changes) == (False, "already_running", ())
    stale = calc.cancel(0.2, "b", calculation_id="someone-else")
    assert (stale.accepted, stale.reason) == (False, "stale_calculation")
    assert calc.snapshot(0.3).state is Phase.STARTING
    assert calc.cancel(0.3, "b", calculation_id="calc1").accepted


def test_terminal_states_are_left_only_by_start() -> None:
    calc = make()
    calc.start(0.0, "a")
    calc.cancel(1.0, "a")
    assert calc.advance(50.0) == []
    assert calc.cancel(50.0, "a").reason == "not_running"
    restarted = calc.start(51.0, "b")
    assert restarted.accepted
    snap = restarted.changes[-1]
    assert (snap.state, snap.calculation_id, snap.ended_by) == (Phase.STARTING, "calc2", None)


def test_fail_marks_running_calculation_failed() -> None:
    calc = make()
    assert calc.fail(0.0, "boom") == []
    calc.start(0.0, "a")
    [failed] = calc.fail(1.0, "server error")
    assert (failed.state, failed.ended_by) == (Phase.FAILED, "server error")
    assert calc.deadline() is None


def test_seq_increases_by_one_per_change() -> None:
    calc = make()
    seqs = [c.seq for c in calc.start(0.0, "a").changes]
    seqs += [c.seq for c in calc.advance(7.0)]
    seqs += [c.seq for c in calc.start(8.0, "a").changes]
    seqs += [c.seq for c in calc.cancel(8.5, "a").changes]
    assert seqs == list(range(1, len(seqs) + 1))


def test_running_snapshot_reports_elapsed_in_current_stage() -> None:
    calc = make()
    calc.start(0.0, "a")
    calc.advance(2.0)
    snap = calc.snapshot(3.25)
    assert (snap.state, snap.stage) == (Phase.IN_PROGRESS, 1)
    assert snap.stage_elapsed == pytest.approx(1.25)
    assert snap.stage_duration == D


def test_stage_duration_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Calculation(epoch="e", stage_duration=0)
