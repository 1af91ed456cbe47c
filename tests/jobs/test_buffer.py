"""The output ring, pure: offsets within a run, the last 1,000 lines, the previous run."""

from __future__ import annotations

import pytest

from calc_server.jobs.buffer import KEPT_LINES, OutputRing, Page, RunLines
from calc_server.jobs.output import OutputLine


def lines(*texts: str) -> list[OutputLine]:
    return [OutputLine("out", text) for text in texts]


def numbered(start: int, stop: int) -> list[OutputLine]:
    return lines(*(str(i) for i in range(start, stop)))


def test_each_append_says_at_which_offset_its_lines_start() -> None:
    run = RunLines("run-1")
    assert run.append(lines("a", "b")) == Page("run-1", 0, tuple(lines("a", "b")))
    page = run.append(lines("c"))
    assert (page.offset, page.end) == (2, 3)


def test_only_the_last_thousand_lines_are_kept_and_offsets_keep_counting() -> None:
    run = RunLines("run-1")
    run.append(numbered(0, 2500))
    assert (run.first_offset, run.next_offset) == (2500 - KEPT_LINES, 2500)
    page = run.since(0, 5)
    assert page.offset == 1500  # the gap tells the caller 1,500 lines are gone
    assert [line.text for line in page.lines] == ["1500", "1501", "1502", "1503", "1504"]


def test_since_pages_forward_without_overlap_or_gap() -> None:
    run = RunLines("run-1")
    run.append(numbered(0, 250))
    seen: list[str] = []
    offset = 0
    while (page := run.since(offset, 100)).lines:
        assert page.offset == offset
        seen.extend(line.text for line in page.lines)
        offset = page.end
    assert seen == [str(i) for i in range(250)]
    assert run.since(250, 100) == Page("run-1", 250, ())
    assert run.since(9999, 100).offset == 250


def test_since_none_and_tail_give_the_last_lines() -> None:
    run = RunLines("run-1")
    run.append(numbered(0, 300))
    assert run.since(None, 3) == Page("run-1", 297, tuple(numbered(297, 300)))
    tail = run.tail()
    assert (tail.offset, len(tail.lines)) == (200, 100)
    short = RunLines("run-2")
    short.append(numbered(0, 7))
    assert short.tail() == Page("run-2", 0, tuple(numbered(0, 7)))


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        RunLines("x").since(0, 0)


def test_a_new_run_pushes_the_current_one_back_and_starts_at_offset_zero() -> None:
    ring = OutputRing()
    ring.new_run("first")
    ring.append(lines("one", "two"))
    ring.new_run("second")
    assert ring.append(lines("three")).offset == 0
    assert ring.since(None, 10) == Page("second", 0, tuple(lines("three")))
    previous = ring.run("first")
    assert previous is not None
    assert previous.since(0, 10) == Page("first", 0, tuple(lines("one", "two")))
    ring.new_run("third")
    assert ring.run("first") is None
    assert ring.run("second") is ring.previous
    assert ring.run() is ring.current


def test_a_ring_before_any_run_is_empty() -> None:
    ring = OutputRing()
    assert ring.tail() == Page(None, 0, ())


def test_a_mirror_follows_the_pages_of_another_ring_and_restarts_after_a_gap() -> None:
    source, mirror = OutputRing(), OutputRing()
    source.new_run("run-1")
    for batch in (numbered(0, 3), numbered(3, 5)):
        mirror.mirror(source.append(batch))
    assert mirror.since(0, 10) == source.since(0, 10)
    source.append(numbered(5, 8))  # a page that never arrived
    mirror.mirror(source.append(numbered(8, 9)))
    kept = mirror.since(0, 10)
    assert (kept.offset, [line.text for line in kept.lines]) == (8, ["8"])
    source.new_run("run-2")
    mirror.mirror(source.append(numbered(0, 1)))
    assert mirror.current.calculation_id == "run-2"
    assert mirror.run("run-1") is not None
