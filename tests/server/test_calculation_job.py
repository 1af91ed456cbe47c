"""The pure Calculation driven by a job's events, on an injected clock."""

from __future__ import annotations

import itertools

from calc_server.calculation import REPORT_INTERVAL, Calculation
from calc_server.jobs import Exited, Report, Spawned, Started
from protocol import Phase


def make() -> Calculation:
    ids = itertools.count(1)
    return Calculation(
        epoch="e", stage_duration=2.0, new_id=lambda: f"calc{next(ids)}", timed=False
    )


def test_stages_follow_the_job_not_the_clock() -> None:
    calc = make()
    calc.start(0.0, "a")
    assert calc.deadline() is None  # nothing happens by itself
    assert calc.advance(100.0) == []
    assert calc.job_event(1.0, "calc1", Spawned(42)) == []
    [running] = calc.job_event(2.0, "calc1", Started())
    assert (running.state, running.stage, running.progress) == (Phase.IN_PROGRESS, 1, None)
    assert running.stage_duration == 0.0  # not timed: old clients draw no interpolated bar
    [almost] = calc.job_event(3.0, "calc1", Report(progress=0.9))
    assert (almost.state, almost.stage, almost.progress) == (Phase.ALMOST_DONE, 2, 0.9)
    [done] = calc.job_event(4.0, "calc1", Exited(exit_code=0, last_message="fine"))
    assert (done.state, done.stage, done.progress, done.exit_code, done.message) == (
        Phase.SUCCESS,
        3,
        1.0,
        0,
        "fine",
    )


def test_the_job_may_say_almost_done_itself() -> None:
    calc = make()
    calc.start(0.0, "a")
    changes = calc.job_event(1.0, "calc1", Report(progress=0.2, stage="ALMOST_DONE"))
    assert [s.state for s in changes] == [Phase.IN_PROGRESS, Phase.ALMOST_DONE]


def test_reports_are_paced_and_the_latest_goes_out_at_the_deadline() -> None:
    calc = make()
    calc.start(0.0, "a")
    calc.job_event(1.0, "calc1", Started())
    assert calc.job_event(1.01, "calc1", Report(progress=0.1, message="one")) == []
    assert calc.job_event(1.02, "calc1", Report(progress=0.2, message="two")) == []
    assert calc.deadline() == 1.0 + REPORT_INTERVAL
    [paced] = calc.advance(1.0 + REPORT_INTERVAL)
    assert (paced.progress, paced.message) == (0.2, "two")
    assert calc.deadline() is None
    [later] = calc.job_event(2.0, "calc1", Report(message="three"))
    assert (later.progress, later.message) == (0.2, "three")


def test_a_failure_states_the_code_the_cause_and_keeps_ended_by_meaning_what_ended_it() -> None:
    calc = make()
    calc.start(0.0, "a")
    calc.job_event(1.0, "calc1", Started())
    [failed] = calc.job_event(2.0, "calc1", Exited(exit_code=3, last_stderr="x" * 500))
    assert (failed.state, failed.exit_code, failed.ended_by) == (Phase.FAILED, 3, "exit 3")
    assert failed.message is not None
    assert len(failed.message) == 200
    calc.start(3.0, "a")
    [killed] = calc.job_event(4.0, "calc2", Exited(exit_code=None, signal=9))
    assert (killed.exit_code, killed.ended_by) == (-9, "killed by SIGKILL")


def test_cancel_is_canceling_until_the_job_has_exited() -> None:
    calc = make()
    calc.start(0.0, "a")
    outcome = calc.cancel(1.0, "b")
    [canceling] = outcome.changes
    assert (canceling.state, canceling.canceling, canceling.ended_by) == (
        Phase.STARTING,
        True,
        None,
    )
    again = calc.cancel(1.5, "c")
    assert (again.accepted, again.changes, again.seq) == (True, (), canceling.seq)
    assert calc.start(2.0, "d").reason == "already_running"
    # a job that catches SIGTERM and exits 0 was still canceled
    [canceled] = calc.job_event(3.0, "calc1", Exited(exit_code=0, canceled=True))
    assert (canceled.state, canceled.ended_by, canceled.canceling) == (Phase.CANCELED, "b", False)


def test_events_of_another_run_change_nothing() -> None:
    calc = make()
    calc.start(0.0, "a")
    calc.job_event(1.0, "calc1", Exited(exit_code=0))
    calc.start(2.0, "a")
    assert calc.job_event(3.0, "calc1", Started()) == []
    assert calc.job_event(3.0, "calc1", Exited(exit_code=1)) == []
    assert calc.snapshot(3.0).state is Phase.STARTING


def test_the_timer_states_its_stage_based_progress() -> None:
    calc = Calculation(epoch="e", stage_duration=2.0)
    assert calc.snapshot(0.0).progress is None
    calc.start(0.0, "a")
    calc.advance(2.0)
    assert calc.snapshot(3.0).progress == 0.5
    assert calc.job_event(3.0, "calc", Started()) == []  # the timer listens to no job
