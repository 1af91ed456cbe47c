"""What the server relies on from any history store: the memory one and the SQLite one alike."""

from __future__ import annotations

import msgspec
import pytest

from calc_server.history import OutputLine, RunOutcome

from .conftest import MakeStore


async def test_runs_of_every_outcome_read_back_newest_first(make_store: MakeStore) -> None:
    store = await make_store()
    assert await store.mark_interrupted() == []
    store.record_start("ok", "alice", at=1000.0)
    store.record_stage("ok", 1, at=1001.0)
    store.record_stage("ok", 2, at=1002.0)
    store.record_end("ok", RunOutcome.SUCCESS, None, at=1003.0)
    store.record_start("stop", "bob", at=1010.0)
    store.record_end("stop", RunOutcome.CANCELED, "carol", at=1010.5)
    store.record_start("job", "dave", at=1020.0, command="make test")
    store.record_stage("job", 1, at=1021.0)
    tail = [OutputLine("out", "compiling"), OutputLine("err", "error: nope")]
    store.record_end(
        "job",
        RunOutcome.FAILED,
        "exit code 2",
        at=1025.0,
        exit_code=2,
        last_message="error: nope",
        output_tail=tail,
    )
    store.record_start("open", "erin", at=1030.0)

    runs, more = await store.page(10)

    assert not more
    assert [r.calculation_id for r in runs] == ["open", "job", "stop", "ok"]
    open_, job, stop, ok = runs
    assert (open_.outcome, open_.ended_at, open_.started_by) == (None, None, "erin")
    assert (ok.outcome, ok.started_at, ok.ended_at) == (RunOutcome.SUCCESS, 1000.0, 1003.0)
    assert ok.stage_seconds == (1.0, 1.0, 1.0)
    assert (stop.outcome, stop.ended_by, stop.stage_seconds) == (
        RunOutcome.CANCELED,
        "carol",
        (0.5,),
    )
    assert job.outcome is RunOutcome.FAILED
    assert (job.command, job.exit_code, job.last_message) == ("make test", 2, "error: nope")
    assert job.output_tail == tuple(tail)
    assert job.stage_seconds == (1.0, 4.0)
    assert await store.get("job") == job
    assert await store.get("nobody") is None
    counts = store.counts_by_outcome()
    assert counts == {
        RunOutcome.SUCCESS: 1,
        RunOutcome.CANCELED: 1,
        RunOutcome.FAILED: 1,
        RunOutcome.INTERRUPTED: 0,
    }


async def test_paging_walks_back_with_before_until_more_is_false(make_store: MakeStore) -> None:
    store = await make_store()
    for i in range(25):
        store.record_start(f"run-{i:02}", "alice", at=float(i))
        store.record_end(f"run-{i:02}", RunOutcome.SUCCESS, None, at=i + 0.5)

    first = await store.page(10)
    second = await store.page(10, before=first.runs[-1].calculation_id)
    third = await store.page(10, before=second.runs[-1].calculation_id)

    seen = [r.calculation_id for page in (first, second, third) for r in page.runs]
    assert seen == [f"run-{i:02}" for i in reversed(range(25))]
    assert (first.more, second.more, third.more) == (True, True, False)
    assert await store.page(5, before="run-00") == ([], False)
    assert await store.page(5, before="never-kept") == ([], False)
    assert (await store.page(25)).more is False
    with pytest.raises(ValueError, match="limit"):
        await store.page(0)


async def test_retention_keeps_the_newest_runs_and_the_totals(make_store: MakeStore) -> None:
    store = await make_store(keep=5)
    for i in range(12):
        store.record_start(f"run-{i:02}", "alice", at=float(i))
        store.record_end(f"run-{i:02}", RunOutcome.CANCELED, "bob", at=i + 0.5)
    store.record_start("open", "alice", at=20.0)

    runs, more = await store.page(100)

    assert [r.calculation_id for r in runs] == ["open", "run-11", "run-10", "run-09", "run-08"]
    assert not more
    assert await store.get("run-00") is None
    assert store.counts_by_outcome()[RunOutcome.CANCELED] == 12


async def test_a_stage_or_end_for_a_run_that_is_not_open_is_ignored(make_store: MakeStore) -> None:
    store = await make_store()
    store.record_stage("ghost", 1)
    store.record_end("ghost", RunOutcome.SUCCESS, None)
    store.record_start("a", "alice", at=1.0)
    store.record_end("a", RunOutcome.SUCCESS, None, at=2.0)
    store.record_end("a", RunOutcome.FAILED, "late", at=3.0)  # already ended: no second end

    runs, _ = await store.page(10)

    assert [(r.calculation_id, r.outcome) for r in runs] == [("a", RunOutcome.SUCCESS)]
    assert sum(store.counts_by_outcome().values()) == 1


async def test_a_page_without_tails_is_the_same_runs_without_their_output(
    make_store: MakeStore,
) -> None:
    store = await make_store()
    tail = [OutputLine("out", "built"), OutputLine("err", "1 warning")]
    for cid in ("a", "b"):
        store.record_start(cid, "alice", at=1.0, command="make")
        store.record_end(cid, RunOutcome.SUCCESS, None, at=2.0, exit_code=0, output_tail=tail)
    store.record_start("open", "bob", at=3.0)

    whole = await store.page(10)
    light = await store.page(10, tails=False)
    deeper = await store.page(1, before="b", tails=False)

    assert [r.output_tail for r in whole.runs] == [(), tuple(tail), tuple(tail)]
    assert light.runs == [msgspec.structs.replace(r, output_tail=()) for r in whole.runs]
    assert deeper == (light.runs[2:], False)
