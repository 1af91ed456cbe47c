"""Rebuilding the pure Calculation from a stored state (pure: no Redis), for a job's run too."""

from __future__ import annotations

from calc_server.calculation import Calculation
from calc_server.cluster.mirror import restore
from calc_server.jobs import Exited, Report, Started
from protocol import Phase


def job_state_at(now: float) -> Calculation:
    """A job's run that started at ``now - 10``, reported, and was asked to cancel."""
    calculation = Calculation(epoch="e1", stage_duration=2.0, timed=False, new_id=lambda: "run")
    calculation.start(now - 10, "alice")
    calculation.job_event(now - 9, "run", Started())
    calculation.job_event(now - 8, "run", Report(progress=0.5, message="half"))
    calculation.cancel(now - 1, "bob")
    return calculation


def test_a_jobs_run_is_restored_as_a_job_and_its_cancel_ends_it_as_who_asked() -> None:
    now = 1000.0
    original = job_state_at(now)
    state = original.snapshot(now - 1)
    assert (state.stage_duration, state.canceling) == (0.0, True)

    restored = restore(state, now - 1, stage_seconds=2.0, now=now, canceling_by="bob")

    assert not restored.timed
    assert restored.snapshot(now) == original.snapshot(now)
    [ended] = restored.job_event(now, "run", Exited(exit_code=None, signal=15, canceled=True))
    assert (ended.state, ended.ended_by, ended.exit_code) == (Phase.CANCELED, "bob", -15)
    assert ended.seq == state.seq + 1


def test_a_stopped_state_starts_what_this_node_runs() -> None:
    timer = Calculation(epoch="e1", stage_duration=2.0)
    idle = timer.snapshot(0.0)
    as_job = restore(idle, 0.0, stage_seconds=2.0, now=5.0, timed=False)
    as_timer = restore(idle, 0.0, stage_seconds=2.0, now=5.0)

    assert as_job.start(5.0, "alice").changes[-1].stage_duration == 0.0
    assert as_timer.start(5.0, "alice").changes[-1].stage_duration == 2.0
    assert as_timer.deadline() == 7.0
    assert as_job.deadline() is None
