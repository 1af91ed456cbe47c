"""The history file's schema: its versions, the checks that it is ours, and row conversions.

``PRAGMA application_id`` marks the file as calc's; ``PRAGMA user_version`` is the number of
migrations applied. Migrations only ever get appended: a file of any older version opens by
running the ones it lacks, each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from calc_server.history.records import OutputLine, RunOutcome, RunRecord
from calc_server.history.store import HistoryFileRefused

APPLICATION_ID = 0x63616C63
"""``PRAGMA application_id`` of a calc history file: "calc" in ASCII."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the first release: who started each run, when, and how it ended.
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE runs (
            calculation_id TEXT PRIMARY KEY,
            started_by TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            outcome TEXT,
            ended_by TEXT
        )""",
    ),
    # 2: stage times and job details; an integer key in start order for paging; totals by
    # outcome that retention does not lower, kept by triggers so they cannot drift.
    (
        """CREATE TABLE runs_v2 (
            seq INTEGER PRIMARY KEY,
            calculation_id TEXT NOT NULL UNIQUE,
            started_by TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            outcome TEXT,
            ended_by TEXT,
            stage_seconds TEXT NOT NULL DEFAULT '[]',
            command TEXT,
            exit_code INTEGER,
            last_message TEXT,
            output_tail TEXT NOT NULL DEFAULT '[]'
        )""",
        """INSERT INTO runs_v2 (calculation_id, started_by, started_at, ended_at, outcome, ended_by)
           SELECT calculation_id, started_by, started_at, ended_at, outcome, ended_by
           FROM runs ORDER BY rowid""",
        "DROP TABLE runs",
        "ALTER TABLE runs_v2 RENAME TO runs",
        "CREATE INDEX runs_open ON runs (seq) WHERE outcome IS NULL",
        """CREATE TABLE outcome_totals (
            outcome TEXT PRIMARY KEY,
            runs INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """INSERT INTO outcome_totals (outcome, runs)
           SELECT outcome, count(*) FROM runs WHERE outcome IS NOT NULL GROUP BY outcome""",
        """CREATE TRIGGER runs_ended_on_insert AFTER INSERT ON runs
           WHEN NEW.outcome IS NOT NULL
           BEGIN
               INSERT INTO outcome_totals (outcome, runs) VALUES (NEW.outcome, 1)
               ON CONFLICT (outcome) DO UPDATE SET runs = runs + 1;
           END""",
        """CREATE TRIGGER runs_ended_on_update AFTER UPDATE OF outcome ON runs
           WHEN OLD.outcome IS NULL AND NEW.outcome IS NOT NULL
           BEGIN
               INSERT INTO outcome_totals (outcome, runs) VALUES (NEW.outcome, 1)
               ON CONFLICT (outcome) DO UPDATE SET runs = runs + 1;
           END""",
    ),
)

LATEST_VERSION = len(MIGRATIONS)
"""The schema version this code writes."""

_COLUMNS = (
    "calculation_id, started_by, started_at, ended_at, outcome, ended_by, "
    "stage_seconds, command, exit_code, last_message, output_tail"
)
SELECT_RUNS = f"SELECT {_COLUMNS} FROM runs"
"""The start of every query that reads whole runs (``row_to_record`` decodes the rows)."""

SELECT_RUNS_WITHOUT_TAILS = f"SELECT {_COLUMNS.removesuffix(', output_tail')} FROM runs"
"""The same without the output tails: decoding 50 lines a run is most of a page's cost."""

UPSERT_RUN = f"""INSERT INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (calculation_id) DO UPDATE SET
        started_by = excluded.started_by, started_at = excluded.started_at,
        ended_at = excluded.ended_at, outcome = excluded.outcome, ended_by = excluded.ended_by,
        stage_seconds = excluded.stage_seconds, command = excluded.command,
        exit_code = excluded.exit_code, last_message = excluded.last_message,
        output_tail = excluded.output_tail"""
"""Write a whole run, keeping its ``seq`` (its place in start order) when it exists."""

PRUNE_RUNS = "DELETE FROM runs WHERE seq <= (SELECT max(seq) FROM runs) - ?"
"""Keep the newest N runs: one range delete on the primary key.

``seq`` values are contiguous (new rows take max + 1 and only the oldest are deleted), so this
is exact; a gap someone cut by hand would only make it keep fewer.
"""

_refused_codes = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}
_stage_decoder = msgspec.json.Decoder(tuple[float, ...])
_tail_decoder = msgspec.json.Decoder(tuple[OutputLine, ...])
_encoder = msgspec.json.Encoder()


def refusal(path: Path, why: str) -> HistoryFileRefused:
    """The one-line refusal for ``path``: what is wrong and the two ways out."""
    return HistoryFileRefused(
        f"{path}: {why}; move it away or choose another file, or run with --history none"
    )


def is_damage(error: sqlite3.Error) -> bool:
    """True when SQLite says the file is not a database or is corrupt (not a passing fault)."""
    return getattr(error, "sqlite_errorcode", None) in _refused_codes


def check_ours(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of an empty or calc history file; raise ``HistoryFileRefused`` else.

    Reads only: a file that is not ours is never written. Passing faults (locked, unreadable)
    come out as ``sqlite3.OperationalError`` for the caller to retry.
    """
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as error:
        if is_damage(error):
            raise refusal(path, "not a calc history file (not a SQLite database)") from error
        raise
    if application_id == 0 and version == 0 and tables == 0:
        return 0
    if application_id != APPLICATION_ID:
        raise refusal(path, "not a calc history file (a SQLite database of something else)")
    if not 1 <= version <= LATEST_VERSION:
        raise refusal(path, f"a calc history file of unknown schema version {version}")
    return int(version)


def check_intact(conn: sqlite3.Connection, path: Path) -> None:
    """Raise ``HistoryFileRefused`` if SQLite finds the file damaged."""
    try:
        verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as error:
        if is_damage(error):
            raise refusal(path, "a damaged calc history file") from error
        raise
    if verdict != "ok":
        raise refusal(path, "a damaged calc history file")


def migrate(conn: sqlite3.Connection, version: int, target: int = LATEST_VERSION) -> None:
    """Apply the migrations from ``version`` up to ``target``, each in one transaction."""
    for number in range(version + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def record_to_row(record: RunRecord) -> tuple[Any, ...]:
    """The ``UPSERT_RUN`` parameters of ``record``."""
    return (
        record.calculation_id,
        record.started_by,
        record.started_at,
        record.ended_at,
        None if record.outcome is None else record.outcome.value,
        record.ended_by,
        _encoder.encode(record.stage_seconds).decode(),
        record.command,
        record.exit_code,
        record.last_message,
        _encoder.encode(record.output_tail).decode(),
    )


def row_to_record(row: tuple[Any, ...]) -> RunRecord:
    """A ``RunRecord`` from a ``SELECT_RUNS`` row, or one without its tail from a
    ``SELECT_RUNS_WITHOUT_TAILS`` row."""
    (cid, by, started, ended, outcome, ended_by, stages, command, code, message) = row[:10]
    tail = _tail_decoder.decode(row[10]) if len(row) > 10 else ()
    return RunRecord(
        calculation_id=cid,
        started_by=by,
        started_at=started,
        ended_at=ended,
        outcome=None if outcome is None else RunOutcome(outcome),
        ended_by=ended_by,
        stage_seconds=_stage_decoder.decode(stages),
        command=command,
        exit_code=code,
        last_message=message,
        output_tail=tail,
    )
