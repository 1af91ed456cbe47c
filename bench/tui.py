"""The terminal client: launch to "connected", and its CPU and terminal output while it runs.

``calc-tui URL`` runs under a pseudo-terminal (80x24, TERM=xterm-256color) as its users' SSH
sessions would host it; everything it writes is read here, counted, and searched for the
connection indicator's "connected" once escape sequences are stripped.
"""

from __future__ import annotations

import fcntl
import os
import re
import selectors
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.proc import CLIENT_CORE, SERVER_CORE, Proc, cpu_seconds, pinned
from bench.stats import percentile

LAUNCHES = 3
WINDOW_SECONDS = 6.0
STAGE_SECONDS = 2.0
"""Three stages of 2 s: a 6-second run, as a user would see with the default settings."""
CONNECT_TIMEOUT = 15.0

_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


@dataclass(frozen=True, slots=True)
class Window:
    """What the client did during one window of ``WINDOW_SECONDS``."""

    cpu_seconds: float
    bytes_written: int

    @property
    def cpu_percent(self) -> float:
        """CPU time as a share of one core."""
        return 100 * self.cpu_seconds / WINDOW_SECONDS

    @property
    def bytes_per_second(self) -> float:
        """Bytes written to the terminal per second."""
        return self.bytes_written / WINDOW_SECONDS


@dataclass(slots=True)
class Tui:
    """Launch times (seconds) and the idle and running windows."""

    first_output_s: list[float] = field(default_factory=list)
    connected_s: list[float] = field(default_factory=list)
    idle: Window | None = None
    running: Window | None = None

    def connected(self, q: float) -> float:
        """Percentile ``q`` of launch-to-connected, seconds."""
        return percentile(self.connected_s, q)


class Terminal:
    """One ``calc-tui`` under a pseudo-terminal; killed (with its group) on ``close``."""

    def __init__(self, url: str) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        env.pop("CALC_TOKEN", None)
        calc_tui = str(Path(sys.executable).with_name("calc-tui"))
        self.launched = time.monotonic()
        self.popen = subprocess.Popen(
            pinned(CLIENT_CORE, [calc_tui, url]),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        os.set_blocking(master, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(master, selectors.EVENT_READ)
        self.written = 0

    def pump(self, seconds: float, until: bytes | None = None) -> bytes:
        """Read output for ``seconds`` (or until the plain text contains ``until``)."""
        deadline = time.monotonic() + seconds
        seen = b""
        while (left := deadline - time.monotonic()) > 0:
            if not self.selector.select(min(left, 0.05)):
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the client exited and the pty closed
                break
            if not chunk:
                break
            self.written += len(chunk)
            if until is not None:
                seen += chunk
                if until in _ESCAPES.sub(b"", seen):
                    return seen
        return seen

    def close(self) -> None:
        """Quit with ``q``, then terminate and kill the process group if it lingers."""
        if self.popen.poll() is None:
            try:
                os.write(self.master, b"q")
                self.pump(1.0)
                self.popen.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    if self.popen.poll() is not None:
                        break
                    os.killpg(self.popen.pid, sig)
                    try:
                        self.popen.wait(3)
                    except subprocess.TimeoutExpired:
                        continue
        self.selector.close()
        os.close(self.master)


def _launch(url: str, result: Tui) -> Terminal:
    term = Terminal(url)
    try:
        first = term.pump(CONNECT_TIMEOUT, until=b"")
        if not first and term.written == 0:
            raise RuntimeError("calc-tui wrote nothing")
        result.first_output_s.append(time.monotonic() - term.launched)
        if b"connected" not in _ESCAPES.sub(b"", first):
            seen = term.pump(CONNECT_TIMEOUT, until=b"connected")
            if b"connected" not in _ESCAPES.sub(b"", first + seen):
                raise RuntimeError("calc-tui never showed 'connected'")
        result.connected_s.append(time.monotonic() - term.launched)
    except BaseException:
        term.close()
        raise
    return term


def _window(term: Terminal) -> Window:
    cpu, written = cpu_seconds(term.popen.pid), term.written
    term.pump(WINDOW_SECONDS)
    return Window(cpu_seconds(term.popen.pid) - cpu, term.written - written)


def measure_tui(log_dir: Path) -> Tui:
    """Launch ``calc-tui`` ``LAUNCHES`` times against our server; time the last one idle and
    through one full calculation started by the benchmark hook."""
    result = Tui()
    python = sys.executable
    argv = [python, "-m", "bench.servers.ours", "--stage-seconds", str(STAGE_SECONDS)]
    with Proc("ours-tui", SERVER_CORE, argv, log_dir) as server:
        url = f"ws://127.0.0.1:{int(server.read_line(30).split()[1])}/ws"
        for _ in range(LAUNCHES - 1):
            _launch(url, result).close()
        term = _launch(url, result)
        try:
            term.pump(1.0)
            result.idle = _window(term)
            server.ask("START")
            result.running = _window(term)
        finally:
            term.close()
    return result
