"""A real command as the calculation: spawned through the supervisor, read, canceled, reaped.

The command line is fixed when the server starts (``argv``, already split, run without a
shell); a run only adds ``CALC_CALCULATION_ID`` and ``PYTHONUNBUFFERED=1`` to the server's
environment. Its stdout and stderr are read concurrently and parsed by ``OutputParser``; each
read becomes at most one ``Output`` (its lines) and one ``Report`` (its reports merged), so a
flood costs the sink one call per read, not one per line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from calc_server.jobs.events import Exited, JobEvent, JobSink, Output, Spawned, Started
from calc_server.jobs.output import (
    LINES_PER_SECOND,
    OutputLine,
    OutputParser,
    ParsedLine,
    RateBudget,
    Report,
    Stream,
)
from calc_server.jobs.supervisor import group_alive

SUPERVISOR = str(Path(__file__).with_name("supervisor.py"))
"""Run as a script in isolated mode (``-I``): it needs nothing but the standard library."""

READ_SIZE = 256 * 1024
"""Bytes per read: large reads keep a flood cheap."""

FLOOD_READ_PAUSE = 0.05
"""Seconds a pipe is left unread after a read whose lines went partly over the budget.

Those lines are dropped anyway; reading a flood as fast as it is written would only spend the
server's CPU (and hand the job more of it) for nothing but a count. Paused, the pipe fills and
the job's writes wait, as a terminal makes them wait; every line is still read and counted.
"""

SKIP_NOTICE_DELAY = 1.0
"""Seconds after a drop before its count is shown even if the job falls silent."""

DRAIN_SECONDS = 2.0
"""After the group is gone, how long to wait for the pipes' EOF (a process that left the
group could hold them open forever)."""

ORPHAN_SECONDS = 5.0
"""If the supervisor itself dies, how long to wait for the group it left behind to die."""


class JobConfigError(ValueError):
    """The job cannot be run as configured; the message is one line for the operator."""


def check_command(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    """Raise ``JobConfigError`` unless ``argv[0]`` names an executable file and ``cwd`` a folder."""
    if not argv:
        raise JobConfigError("the job command is empty")
    if not cwd.is_dir():
        raise JobConfigError(f"job directory not found: {cwd}")
    program = argv[0]
    if os.sep in program:
        path = cwd / program  # a relative path is taken from the job's directory, as exec does
        if not path.is_file():
            raise JobConfigError(f"job executable not found: {program}")
        if not os.access(path, os.X_OK):
            raise JobConfigError(f"job executable is not executable: {program}")
    elif shutil.which(program, path=env.get("PATH", os.defpath)) is None:
        raise JobConfigError(f"job executable not found in PATH: {program}")


class CommandJob:
    """Runs ``argv`` as the calculation, one run at a time; implements ``calc_server.jobs.Job``.

    ``start`` and ``cancel`` return at once; everything that follows comes to the run's sink.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        grace: float = 10.0,
        lines_per_second: float = LINES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.argv = tuple(argv)
        self.cwd = Path.cwd() if cwd is None else Path(cwd)
        self.env = dict(os.environ if env is None else env)
        self.grace = grace
        self._lines_per_second = lines_per_second
        self._clock = clock
        check_command(self.argv, self.cwd, self.env)
        self._run: _Run | None = None
        self._task: asyncio.Task[Exited] | None = None

    @property
    def timed(self) -> bool:
        """Never: the stages follow the command's own events."""
        return False

    @property
    def running(self) -> bool:
        """True from ``start`` until the run's ``Exited`` has been emitted."""
        return self._task is not None and not self._task.done()

    def start(self, calculation_id: str, sink: JobSink) -> None:
        """Spawn the command for ``calculation_id``; its events go to ``sink``."""
        if self.running:
            raise RuntimeError("a run is in progress")
        env = {**self.env, "CALC_CALCULATION_ID": calculation_id, "PYTHONUNBUFFERED": "1"}
        parser = OutputParser(RateBudget(self._lines_per_second))
        self._run = _Run(self, env, parser, sink)
        self._task = asyncio.get_running_loop().create_task(
            self._run.main(), name=f"job {calculation_id}"
        )

    def cancel(self, grace: float) -> None:
        """SIGTERM to the whole group, SIGKILL after ``grace`` seconds; no-op when idle."""
        if self._run is not None and self.running:
            self._run.cancel(grace)

    async def wait(self) -> Exited | None:
        """Wait for the current (or last) run to end; its ``Exited``, or None if none ran."""
        if self._task is None:
            return None
        return await asyncio.shield(self._task)


class _Run:
    """One run: the supervisor process, its control socket, the two pipe readers."""

    def __init__(
        self, job: CommandJob, env: dict[str, str], parser: OutputParser, sink: JobSink
    ) -> None:
        self._job = job
        self._env = env
        self._parser = parser
        self._sink = sink
        self._clock = job._clock
        self._control: asyncio.StreamWriter | None = None
        self._grace: float | None = None
        self._canceled = False
        self._started = False
        self._last_message: str | None = None
        self._last_stderr: str | None = None
        self._notice: asyncio.TimerHandle | None = None

    def cancel(self, grace: float) -> None:
        self._canceled = True
        self._grace = grace if self._grace is None else min(self._grace, grace)
        self._send_cancel()

    def _send_cancel(self) -> None:
        if self._control is None or self._grace is None or self._control.is_closing():
            return  # sent once the control socket is open
        self._control.write(f"cancel {self._grace!r}\n".encode())

    async def main(self) -> Exited:
        parent, child = socket.socketpair()
        try:
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",
                    SUPERVISOR,
                    "--grace",
                    repr(self._job.grace),
                    "--",
                    *self._job.argv,
                    stdin=child.fileno(),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=self._job.cwd,
                    env=self._env,
                )
            finally:
                child.close()
        except OSError as error:
            parent.close()
            return self._exited(Exited(exit_code=126, error=f"cannot start the job: {error}"))
        try:
            reader, self._control = await asyncio.open_unix_connection(sock=parent)
            self._send_cancel()
            return await self._supervise(process, reader)
        finally:
            # Closing our end is also the kill switch: the supervisor reads EOF and SIGKILLs
            # the group, so even a run task that is itself cancelled leaves nothing behind.
            if self._control is not None:
                self._control.close()
            else:
                parent.close()
            if self._notice is not None:
                self._notice.cancel()

    async def _supervise(
        self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader
    ) -> Exited:
        assert process.stdout is not None
        assert process.stderr is not None
        status = _Status()
        pumps: list[asyncio.Task[None]] = []
        try:
            while not status.ended and (line := await reader.readline()):
                word = status.take(line)
                if word == "spawned" and status.pid is not None:
                    self._emit(Spawned(status.pid))
                if not pumps and word in ("spawned", "failed"):
                    pumps = self._pumps(process.stdout, process.stderr)
            if not status.ended and status.pid is not None:
                status.killed = await _kill_orphaned_group(status.pid) or status.killed
                status.error = status.error or "the job's supervisor died"
            await process.wait()
            if not pumps:  # it died before spawning: whatever it printed is the job's output
                pumps = self._pumps(process.stdout, process.stderr)
                status.error = status.error or f"the job's supervisor exited {process.returncode}"
            await _drain(pumps)
        finally:
            for pump in pumps:
                pump.cancel()
        self._deliver(self._parser.flush())
        code = status.returncode
        return self._exited(
            Exited(
                exit_code=code if code is None or code >= 0 else None,
                signal=-code if code is not None and code < 0 else None,
                canceled=self._canceled,
                killed=status.killed,
                last_message=self._last_message,
                last_stderr=self._last_stderr,
                error=status.error,
            )
        )

    # --- output --------------------------------------------------------------------------

    def _pumps(
        self, stdout: asyncio.StreamReader, stderr: asyncio.StreamReader
    ) -> list[asyncio.Task[None]]:
        """Start reading both pipes (only once ``Spawned`` is out, so it comes first)."""
        return [
            asyncio.create_task(self._pump("out", stdout)),
            asyncio.create_task(self._pump("err", stderr)),
        ]

    async def _pump(self, stream: Stream, pipe: asyncio.StreamReader) -> None:
        try:
            while chunk := await pipe.read(READ_SIZE):
                dropped = self._parser.dropped
                self._deliver(self._parser.feed(stream, chunk, self._clock()))
                if self._parser.dropped > dropped:
                    await asyncio.sleep(FLOOD_READ_PAUSE)
        finally:
            self._deliver(self._parser.finish(stream, self._clock()))

    def _deliver(self, parsed: Sequence[ParsedLine]) -> None:
        lines = tuple(item for item in parsed if isinstance(item, OutputLine))
        reports = [item for item in parsed if isinstance(item, Report)]
        if (lines or reports) and not self._started:
            self._started = True
            self._emit(Started())
        if lines:
            errors = [line.text for line in lines if line.stream == "err" and line.text.strip()]
            if errors:
                self._last_stderr = errors[-1].strip()
            self._emit(Output(lines))
        if reports:
            report = reduce(Report.merged, reports)
            if report.message is not None:
                self._last_message = report.message
            self._emit(report)
        if self._parser.skipped and self._notice is None:
            self._notice = asyncio.get_running_loop().call_later(
                SKIP_NOTICE_DELAY, self._show_skipped
            )

    def _show_skipped(self) -> None:
        self._notice = None
        self._deliver(self._parser.flush())

    def _emit(self, event: JobEvent) -> None:
        self._sink(event)

    def _exited(self, exited: Exited) -> Exited:
        self._emit(exited)
        return exited


@dataclass(slots=True)
class _Status:
    """What the supervisor said so far (see ``calc_server.jobs.supervisor`` for its lines)."""

    pid: int | None = None
    returncode: int | None = None
    killed: bool = False
    error: str | None = None
    ended: bool = False

    def take(self, line: bytes) -> str:
        """Note one line from the supervisor; its first word."""
        word, _, rest = line.decode("utf-8", "replace").strip().partition(" ")
        if word == "spawned":
            self.pid = int(rest)
        elif word == "failed":
            code, _, self.error = rest.partition(" ")
            self.returncode = int(code)
        elif word == "exited":
            self.returncode = int(rest)
        elif word == "killed":
            self.killed = True
        elif word == "ended":
            self.ended = True
        return word


async def _drain(pumps: list[asyncio.Task[None]]) -> None:
    """Let the readers reach EOF, but not forever: a process outside the group may hold a pipe."""
    _, pending = await asyncio.wait(pumps, timeout=DRAIN_SECONDS)
    for pump in pending:
        pump.cancel()
    for pump in pumps:
        with contextlib.suppress(asyncio.CancelledError):
            await pump


async def _kill_orphaned_group(pgid: int) -> bool:
    """The supervisor died without saying the group ended: SIGKILL it here and wait (bounded)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    give_up = time.monotonic() + ORPHAN_SECONDS
    # Nothing signals that a group has emptied (it is not our child), so poll, bounded.
    while True:
        if not group_alive(pgid) or time.monotonic() >= give_up:
            return True
        await asyncio.sleep(0.02)
