"""Processes of a benchmark run: started pinned to a core, spoken to by lines, always killed."""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

SERVER_CORE = 0
"""The core every server runs on."""
CLIENT_CORE = 1
"""The core of the load generator, the terminal client and this orchestrator."""

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcError(RuntimeError):
    """A benchmark process died, answered ``ERR`` or did not answer in time."""


def pinned(core: int, argv: list[str]) -> list[str]:
    """``argv`` run on one core via taskset (unpinned, with a warning, if it is missing)."""
    taskset = shutil.which("taskset")
    if taskset is None or (os.cpu_count() or 1) < 2:
        print("bench: taskset or a second core missing, processes are not pinned", file=sys.stderr)
        return argv
    return [taskset, "-c", str(core), *argv]


class Proc:
    """A child process answering one stdout line per stdin line; killed on ``close``."""

    def __init__(self, name: str, core: int, argv: list[str], log_dir: Path) -> None:
        self.name = name
        self._log = (log_dir / f"{name}.log").open("wb")
        self.popen = subprocess.Popen(
            pinned(core, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert self.popen.stdout is not None
        self._out = self.popen.stdout.fileno()
        os.set_blocking(self._out, False)
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._out, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        """The process id (taskset execs the command, so it is the Python process's)."""
        return self.popen.pid

    def read_line(self, timeout: float) -> str:
        """The next line the process writes; ``ProcError`` on death, timeout or ``ERR``."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProcError(f"{self.name}: no answer within {timeout:.0f}s")
            if not self._selector.select(left):
                continue
            chunk = os.read(self._out, 65536)
            if not chunk:
                raise ProcError(f"{self.name} exited with {self.popen.wait(5)}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        text = line.decode()
        if text.startswith("ERR"):
            raise ProcError(f"{self.name}: {text}")
        return text

    def ask(self, line: str, timeout: float = 60.0) -> list[str]:
        """Send one control line and return the words of the reply."""
        assert self.popen.stdin is not None
        self.popen.stdin.write(line.encode() + b"\n")
        self.popen.stdin.flush()
        return self.read_line(timeout).split()

    def close(self) -> None:
        """Ask it to quit, then terminate and kill it if it lingers."""
        if self.popen.poll() is None:
            try:
                assert self.popen.stdin is not None
                self.popen.stdin.write(b"QUIT\n")
                self.popen.stdin.close()
                self.popen.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.popen.terminate()
                try:
                    self.popen.wait(3)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(3)
        self._selector.close()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._log.close()

    def __enter__(self) -> Proc:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ProcError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far (/proc/PID/stat utime + stime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
