"""Answers to ``history`` requests, and runs as the protocol carries them."""

from __future__ import annotations

from calc_server.history import HistoryReader, HistoryUnavailable, RunRecord
from protocol import Error, ErrorCode, History, HistoryQuery, OutputLine, Run, encode

UNAVAILABLE = "the run history cannot be read now (the server keeps trying); ask again later"
"""``error.message`` for ``history_unavailable``: no file name, which is the server's business."""


def run_message(record: RunRecord, *, with_tail: bool) -> Run:
    """``record`` as the protocol's ``Run``; its output tail only ``with_tail``."""
    return Run(
        calculation_id=record.calculation_id,
        started_by=record.started_by,
        started_at=record.started_at,
        ended_at=record.ended_at,
        outcome=None if record.outcome is None else record.outcome.value,
        ended_by=record.ended_by,
        stage_seconds=list(record.stage_seconds),
        command=record.command,
        exit_code=record.exit_code,
        last_message=record.last_message,
        output_tail=[OutputLine(stream=line.stream, text=line.text) for line in record.output_tail]
        if with_tail
        else [],
    )


async def answer(query: HistoryQuery, store: HistoryReader) -> bytes:
    """The encoded answer to ``query``: a ``history`` message, or ``history_unavailable``.

    A page leaves output tails out (pages stay small and quick); one run asked for by
    ``calculation_id`` comes whole, or not at all when it is not kept.
    """
    try:
        if query.calculation_id is not None:
            record = await store.get(query.calculation_id)
            runs = [] if record is None else [run_message(record, with_tail=True)]
            more = False
        else:
            page = await store.page(query.limit, query.before, tails=False)
            runs = [run_message(record, with_tail=False) for record in page.runs]
            more = page.more
    except HistoryUnavailable:
        error = Error(
            code=ErrorCode.HISTORY_UNAVAILABLE, message=UNAVAILABLE, request_id=query.request_id
        )
        return encode(error)
    return encode(History(request_id=query.request_id, runs=runs, more=more))
