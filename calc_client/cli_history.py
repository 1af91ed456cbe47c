"""``calc history``: the server's past runs, newest first, as a table or one JSON line each.

The table is for people (every cell cleaned of control characters); ``--json`` prints each
run exactly as the protocol carries it (JSON escapes control characters), one per line.
"""

from __future__ import annotations

from calc_client.cli_connection import answer_deadline, next_message
from calc_client.cli_exit import CommandFailed, ExitCode
from calc_client.link import Link
from calc_client.runs import duration, outcome, started, who
from calc_client.text import plain
from protocol import Error, ErrorCode, History, Run, encode

PAGE = 100
"""Runs asked for per request: the most the protocol allows."""

HEADER = ("ID", "STARTED", "DURATION", "OUTCOME", "STARTED BY", "ENDED BY")


async def history(link: Link, timeout: float, *, limit: int, as_json: bool) -> ExitCode:
    """Print up to ``limit`` runs, newest first, fetching them a page at a time."""
    if "history" not in link.welcome.features:
        raise CommandFailed(ExitCode.REJECTED, "this server keeps no run history")
    runs = await fetch(link, timeout, limit)
    if as_json:
        for run in runs:
            print(encode(run).decode(), flush=True)
    elif runs:
        print(table(runs), flush=True)
    else:
        print("no runs yet", flush=True)
    return ExitCode.OK


async def fetch(link: Link, timeout: float, limit: int) -> list[Run]:
    """Up to ``limit`` runs, newest first; ``CommandFailed`` if the server cannot say."""
    runs: list[Run] = []
    before: str | None = None
    while len(runs) < limit:
        request_id = await link.history(min(PAGE, limit - len(runs)), before)
        async with answer_deadline(timeout, "the run history"):
            while True:
                message = await next_message(link)
                if isinstance(message, History | Error) and message.request_id == request_id:
                    break
        if isinstance(message, Error):
            what = "unavailable" if message.code == ErrorCode.HISTORY_UNAVAILABLE else "error"
            raise CommandFailed(
                ExitCode.REJECTED, f"history {what} ({message.code}): {message.message}"
            )
        runs += message.runs[: limit - len(runs)]
        if not message.more or not message.runs:
            break
        before = message.runs[-1].calculation_id
    return runs


def table(runs: list[Run]) -> str:
    """The runs as aligned columns under a header."""
    rows = [HEADER] + [
        (
            plain(run.calculation_id, 24),
            started(run),
            duration(run),
            outcome(run),
            who(run.started_by),
            who(run.ended_by),
        )
        for run in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
