"""The output parser, pure: bytes in, lines and reports out, on an injected clock."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calc_server.jobs.output import (
    CUT_MARKER,
    MAX_LINE_BYTES,
    MAX_MESSAGE_CHARS,
    LineSplitter,
    OutputLine,
    OutputParser,
    ParsedLine,
    RateBudget,
    Report,
    Stream,
    parse_report,
    parse_tqdm,
)
from tests.jobs.tqdm_format import bar_line, bar_stream

UNLIMITED = 1e12


def parse(data: bytes, stream: Stream = "out", rate: float = UNLIMITED) -> list[ParsedLine]:
    """Everything ``data`` on ``stream`` comes out as, end of stream included."""
    parser = OutputParser(RateBudget(rate))
    return [*parser.feed(stream, data, 0.0), *parser.finish(stream, 0.0)]


def texts(parsed: list[ParsedLine]) -> list[str]:
    return [item.text for item in parsed if isinstance(item, OutputLine)]


# --- lines -------------------------------------------------------------------------------


def test_lines_split_on_newline_carriage_return_and_both() -> None:
    assert texts(parse(b"one\ntwo\rthree\r\nfour\n")) == ["one", "two", "three", "four"]


def test_a_crlf_split_across_reads_counts_once() -> None:
    parser = OutputParser()
    first = parser.feed("out", b"one\r", 0.0)
    second = parser.feed("out", b"\ntwo\n", 0.0)
    assert texts([*first, *second]) == ["one", "two"]


def test_blank_lines_stay_but_empty_redraws_do_not() -> None:
    assert texts(parse(b"a\n\nb\r\rc\n")) == ["a", "", "b", "c"]


def test_a_partial_last_line_comes_out_at_the_end_of_the_stream() -> None:
    parser = OutputParser()
    assert parser.feed("out", b"no newline", 0.0) == []
    assert parser.finish("out", 0.0) == [OutputLine("out", "no newline")]


def test_invalid_utf8_is_replaced_and_escape_sequences_are_kept() -> None:
    raw = b"\xff\xfeok \x1b[31mred\x1b[0m \x1b]0;title\x07 caf\xc3\xa9\n"
    assert texts(parse(raw)) == ["\ufffd\ufffdok \x1b[31mred\x1b[0m \x1b]0;title\x07 café"]


def test_a_long_line_is_cut_with_a_marker() -> None:
    [text] = texts(parse(b"x" * 10_000 + b"\nnext\n")[:1])
    assert text == "x" * MAX_LINE_BYTES + CUT_MARKER
    assert texts(parse(b"x" * 10_000 + b"\nnext\n"))[1] == "next"


def test_a_line_of_exactly_the_limit_is_not_cut() -> None:
    assert texts(parse(b"x" * MAX_LINE_BYTES + b"\n")) == ["x" * MAX_LINE_BYTES]


def test_a_cut_never_splits_a_character() -> None:
    raw = b"x" * (MAX_LINE_BYTES - 1) + "é".encode() * 10 + b"\n"
    [text] = texts(parse(raw))
    assert text == "x" * (MAX_LINE_BYTES - 1) + CUT_MARKER


def test_a_job_that_never_prints_a_newline_holds_at_most_one_cut_line() -> None:
    splitter = LineSplitter()
    out = []
    for _ in range(200):  # 12.8 MB, never a newline
        out.extend(splitter.feed(b"y" * 65536))
        assert splitter.held <= MAX_LINE_BYTES
    out.extend(splitter.finish())
    assert [(len(line.data), line.cut) for line in out] == [(MAX_LINE_BYTES, True)]


def test_after_a_cut_the_next_line_starts_clean() -> None:
    parser = OutputParser()
    parsed = [*parser.feed("out", b"z" * 5000, 0.0), *parser.feed("out", b"zz\nafter\n", 0.0)]
    assert texts(parsed) == ["z" * MAX_LINE_BYTES + CUT_MARKER, "after"]


# --- reports -----------------------------------------------------------------------------


def test_a_report_line_is_consumed_as_a_report() -> None:
    line = b'{"calc": {"progress": 0.42, "message": "epoch 3/10", "stage": "ALMOST_DONE"}}\n'
    assert parse(line) == [Report(progress=0.42, message="epoch 3/10", stage="ALMOST_DONE")]


def test_a_report_may_carry_any_subset_of_fields_on_either_stream() -> None:
    assert parse(b' {"calc": {"message": "hi"}} \n', "err") == [Report(message="hi")]
    assert parse(b'{"calc": {}}\n') == [Report()]


@pytest.mark.parametrize(
    "line",
    [
        b'{"calc": {"progress": 1.5}}',
        b'{"calc": {"progress": -0.1}}',
        b'{"calc": {"progress": "half"}}',
        b'{"calc": {"stage": "SUCCESS"}}',
        b'{"calc": {"message": 3}}',
        b'{"calc": {}, "other": 1}',
        b'{"calc": 1}',
        b'{"calc": {"progress": 0.5}',
        b'["calc"]',
        b'{"calc": {"message": "\xff"}}',
    ],
)
def test_a_malformed_report_is_plain_output(line: bytes) -> None:
    assert parse_report(line) is None
    assert parse(line + b"\n") == [OutputLine("out", line.decode("utf-8", "replace"))]


def test_unknown_fields_inside_calc_are_ignored() -> None:
    assert parse_report(b'{"calc": {"progress": 1, "eta": 3}}') == Report(progress=1.0)


def test_a_long_report_message_is_shortened() -> None:
    line = json.dumps({"calc": {"message": "m" * 1000}}).encode()
    report = parse_report(line)
    assert report is not None
    assert report.message is not None
    assert len(report.message) == MAX_MESSAGE_CHARS
    assert report.message.endswith("…")


def test_later_report_fields_win_when_merged() -> None:
    merged = Report(progress=0.1, message="a", stage=None).merged(Report(progress=0.2))
    assert merged == Report(progress=0.2, message="a", stage=None)


# --- tqdm --------------------------------------------------------------------------------


def test_tqdm_bars_on_stderr_are_progress_not_output() -> None:
    parsed = parse(bar_stream(10, desc="train").encode(), "err")
    assert texts(parsed) == []
    assert [r.progress for r in parsed if isinstance(r, Report)] == [i / 10 for i in range(11)]
    last = parsed[-1]
    assert isinstance(last, Report)
    assert last.message == "train 100% 10/10 [00:00<00:00, 49.50it/s]"


def test_a_tqdm_bar_without_description() -> None:
    assert parse_tqdm(bar_line(3, 12)) == Report(progress=0.25, message="25% 3/12 [00:00<?, ?it/s]")


def test_tqdm_like_lines_on_stdout_are_plain_output() -> None:
    line = bar_line(5, 10)
    assert texts(parse(line.encode() + b"\n", "out")) == [line]


@pytest.mark.parametrize("text", ["100% done", "50%|no closing bar", "250%|###| 5/2", "1234%|#|"])
def test_lines_that_only_look_like_tqdm_are_not_progress(text: str) -> None:
    assert parse_tqdm(text) is None


# --- the budget ----------------------------------------------------------------------------


def test_the_budget_drops_the_excess_and_counts_it() -> None:
    parser = OutputParser(RateBudget(rate=10))
    flood = b"".join(b"line %d\n" % i for i in range(25))
    first = parser.feed("out", flood, now=100.0)
    assert texts(first) == [f"line {i}" for i in range(10)]
    assert parser.skipped == 15
    # Half a second later five tokens are back: the count comes first, then four lines.
    later = parser.feed("out", b"a\nb\nc\nd\ne\nf\n", now=100.5)
    assert texts(later) == ["... 15 lines skipped", "a", "b", "c", "d"]
    assert parser.skipped == 2
    assert parser.flush() == [OutputLine("out", "... 2 lines skipped")]
    assert parser.flush() == []


def test_skip_counts_are_kept_per_stream_and_use_thousands_separators() -> None:
    budget = RateBudget(rate=1)
    assert budget.admit("out", 0.0) == ([], True)
    for _ in range(12_345):
        assert budget.admit("err", 0.0) == ([], False)
    assert budget.admit("out", 0.0) == ([], False)
    assert budget.flush() == [
        OutputLine("err", "... 12,345 lines skipped"),
        OutputLine("out", "... 1 line skipped"),
    ]


def test_reports_and_bars_are_never_dropped_by_the_budget() -> None:
    parser = OutputParser(RateBudget(rate=1))
    parsed = parser.feed("out", b"x\ny\n" + b'{"calc": {"progress": 0.5}}\n', 0.0)
    assert parsed == [OutputLine("out", "x"), Report(progress=0.5)]
    parsed = parser.feed("err", bar_line(1, 2).encode() + b"\n", 0.0)
    assert parsed == [Report(progress=0.5, message="50% 1/2 [00:00<?, ?it/s]")]


def test_a_clock_that_goes_backwards_grants_nothing() -> None:
    budget = RateBudget(rate=2)
    assert budget.admit("out", 10.0)[1]
    assert budget.admit("out", 10.0)[1]
    assert not budget.admit("out", 5.0)[1]
    assert not budget.admit("out", 10.0)[1]
    assert budget.admit("out", 10.5)[0] == [OutputLine("out", "... 2 lines skipped")]


# --- properties ----------------------------------------------------------------------------


STREAMS: tuple[Stream, ...] = ("out", "err")


# Fragments that steer random bytes into the parser's interesting paths: reports, bars,
# terminators, invalid UTF-8, long runs.
FRAGMENTS = [
    b'{"calc": {"message": "',
    b'{"calc": {"progress": ',
    b'"stage": "ALMOST_DONE"',
    b"}}",
    b'"}}',
    b"0.5",
    b"1e999",
    b"\xff\xfe",
    b"\xc3",
    b"\n",
    b"\r",
    b"\r\n",
    b" 42%|",
    b"| 4/10 [00:01<00:01, 3.5it/s]",
    b"\x1b[31m",
    b"x" * 3000,
]
chunk = st.lists(st.one_of(st.binary(max_size=40), st.sampled_from(FRAGMENTS)), max_size=12).map(
    b"".join
)


@given(chunks=st.lists(chunk, max_size=30), s=st.sampled_from(STREAMS))
def test_the_parser_never_raises_and_lines_stay_bounded(chunks: list[bytes], s: Stream) -> None:
    parser = OutputParser(RateBudget(rate=50))
    parsed: list[ParsedLine] = []
    for i, chunk in enumerate(chunks):
        parsed.extend(parser.feed(s, chunk, now=i * 0.01))
    parsed.extend(parser.finish(s, now=1.0))
    parsed.extend(parser.flush())
    for item in parsed:
        if isinstance(item, OutputLine):
            assert "\n" not in item.text
            assert "\r" not in item.text
            assert len(item.text) <= MAX_LINE_BYTES + len(CUT_MARKER)
        else:
            assert item.progress is None or 0 <= item.progress <= 1


@given(
    data=st.lists(st.one_of(st.binary(max_size=40), st.sampled_from(FRAGMENTS)), max_size=40).map(
        b"".join
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=40_000), max_size=8),
    rate=st.sampled_from([3.0, UNLIMITED]),
    s=st.sampled_from(STREAMS),
)
def test_lines_do_not_depend_on_how_the_bytes_were_read(
    data: bytes, cuts: list[int], rate: float, s: Stream
) -> None:
    """Whatever the reads, the same lines, reports and skip counts (a small budget too)."""
    whole = OutputParser(RateBudget(rate))
    expected = [*whole.feed(s, data, 0.0), *whole.finish(s, 0.0), *whole.flush()]
    parser = OutputParser(RateBudget(rate))
    pieces: list[ParsedLine] = []
    bounds = [0, *sorted(cuts), len(data)]
    for start, end in itertools.pairwise(bounds):
        pieces.extend(parser.feed(s, data[start:end], 0.0))
    pieces.extend(parser.finish(s, 0.0))
    pieces.extend(parser.flush())
    assert pieces == expected


def test_a_flood_past_the_budget_is_counted_exactly() -> None:
    parser = OutputParser(RateBudget(rate=2))
    parsed = parser.feed("out", b"a\nb\nc\nd", 0.0)  # c is dropped, d is held
    parsed += parser.feed("out", b"d\n" + b"y\n" * 1000 + b"partial", 0.0)
    parsed += parser.feed("out", b"x" * 5000 + b"\n", 0.0)  # one cut line, dropped
    parsed += parser.finish("out", 0.0)
    assert texts(parsed) == ["a", "b"]
    assert parser.flush() == [OutputLine("out", "... 1,003 lines skipped")]


def test_dropped_keeps_counting_after_the_skip_notice_is_shown() -> None:
    parser = OutputParser(RateBudget(rate=2))
    assert parser.dropped == 0
    parser.feed("out", b"a\nb\nc\nd\n", 0.0)
    assert parser.dropped == 2
    parser.flush()
    assert (parser.skipped, parser.dropped) == (0, 2)
    parser.feed("err", b"{not a report\n" * 3, 0.0)  # the slow path drops too
    assert parser.dropped == 5


@given(
    st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=50))
)
def test_plain_lines_come_back_as_they_were_printed(lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    parsed = parse(data)
    expected = [parse_report(line.encode()) or OutputLine("out", line) for line in lines]
    assert parsed == expected
