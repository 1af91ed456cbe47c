"""Run history: one store interface, kept in memory or in a SQLite file.

The service records each run's start, stage changes and end through ``HistoryStore``; which
store it has (``MemoryHistory`` for ``--history none``, ``SqliteHistory`` for a file) is chosen
once at start-up and never asked again.
"""

from calc_server.history.memory import MemoryHistory
from calc_server.history.records import (
    DEFAULT_KEEP,
    OUTPUT_TAIL_LINES,
    HistoryPage,
    OutputLine,
    RunOutcome,
    RunRecord,
)
from calc_server.history.sqlite import SqliteHistory, default_history_path
from calc_server.history.store import (
    HistoryFileRefused,
    HistoryReader,
    HistoryStore,
    HistoryUnavailable,
)

__all__ = [
    "DEFAULT_KEEP",
    "OUTPUT_TAIL_LINES",
    "HistoryFileRefused",
    "HistoryPage",
    "HistoryReader",
    "HistoryStore",
    "HistoryUnavailable",
    "MemoryHistory",
    "OutputLine",
    "RunOutcome",
    "RunRecord",
    "SqliteHistory",
    "default_history_path",
]
