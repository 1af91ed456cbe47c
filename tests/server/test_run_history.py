"""RunHistory turns published states into runs; a real job's details ride on its end state."""

from __future__ import annotations

import msgspec

from calc_server.history import MemoryHistory, OutputLine
from calc_server.history_requests import answer
from calc_server.run_history import JobDetails, RunHistory
from protocol import History, HistoryQuery, Phase, State, server_decoder


def state(seq: int, phase: Phase, stage: int = 0, ended_by: str | None = None) -> State:
    return State(
        seq=seq,
        epoch="e",
        calculation_id="job1",
        state=phase,
        stage=stage,
        stage_elapsed=0.0,
        stage_duration=1.0,
        started_by="ci (c3)",
        ended_by=ended_by,
    )


async def test_a_job_s_command_and_exit_are_kept_and_its_tail_comes_only_whole() -> None:
    times = iter([100.0, 101.5, 104.0])
    history = RunHistory(MemoryHistory(), clock=lambda: next(times))
    history.observe(state(1, Phase.STARTING), JobDetails(command="make test"))
    history.observe(state(2, Phase.IN_PROGRESS, 1))
    tail = tuple(OutputLine("err", f"line {i}") for i in range(60))
    ended = JobDetails(exit_code=2, last_message="3 tests failed", output_tail=tail)
    history.observe(state(3, Phase.FAILED, 1, ended_by="exit code 2"), ended)

    assert history.last_run is not None
    assert history.last_run.output_tail == ()  # welcome stays small
    assert history.counts()["FAILED"] == 1

    page = server_decoder.decode(await answer(HistoryQuery(request_id="p"), history.store))
    assert isinstance(page, History)
    (run,) = page.runs
    assert (run.command, run.exit_code, run.last_message) == ("make test", 2, "3 tests failed")
    assert (run.outcome, run.ended_by, run.stage_seconds) == ("FAILED", "exit code 2", [1.5, 2.5])
    assert run.output_tail == []

    query = HistoryQuery(request_id="one", calculation_id="job1")
    whole = server_decoder.decode(await answer(query, history.store))
    assert isinstance(whole, History)
    lines = [msgspec.structs.astuple(line) for line in whole.runs[0].output_tail]
    assert lines == [("err", f"line {i}") for i in range(10, 60)]  # the last 50
