"""The job's parent: runs it in a session of its own and takes its whole group down on demand,
or at once when the server dies, however the server dies.

``CommandJob`` starts it as ``python -I supervisor.py --grace SECONDS -- ARGV...`` with fd 0 one
end of a socket pair (the server keeps the other end) and fds 1 and 2 the pipes the server
reads; the job inherits those two, its stdin is /dev/null.

Why this design:

- **The server's death is a closed socket.** The kernel closes every descriptor of a dead
  process however it died (SIGKILL, OOM killer, crash), so EOF on fd 0 is a signal of the
  server's death that cannot be missed or raced: the pair exists before this process does, so
  even a server that dies during our start-up reads as EOF. ``prctl(PR_SET_PDEATHSIG)`` was
  the alternative and is weaker on every count: it acts on the one process that sets it (not
  on grandchildren), it fires when the parent *thread* exits (a server that spawns from a worker
  thread would kill jobs for nothing), and it is Linux only.
- **A process group of its own.** The job runs with ``setsid``, so its pid is its group id, and
  SIGTERM/SIGKILL go to the whole group (grandchildren included); the terminal's SIGINT/SIGHUP,
  meant for the server, do not reach it: the server decides how the job ends.
- **No stranger is ever signalled.** The supervisor is the job's parent, so the job's pid, and
  with it the group id, stays reserved until the supervisor reaps it; a group id stays reserved
  while any member lives.
- **"Ended" means every process of the group is gone.** On Linux the supervisor is a child
  subreaper: orphaned grandchildren are reparented to it and reaped here, so no zombie keeps the
  group looking alive under a PID 1 that does not reap (containers). Once the job itself has
  exited, leftovers of its group (a background ``sleep 1000``) get SIGTERM, then SIGKILL after
  the grace. A process that leaves the group (``setsid`` of its own) is out of reach, as with
  any shell's job control.
- **Nothing of the environment reaches it:** ``-I`` (isolated mode) and the standard library
  only, so neither ``PYTHONPATH`` nor the job's working directory can break or hijack it.

Lines on fd 0, supervisor to server: ``spawned PID``, ``failed CODE TEXT`` (126 or 127: it could
not be run), ``exited RETURNCODE`` (negative: killed by that signal), ``killed`` (the grace ran
out: SIGKILL sent), ``ended`` (every process of the group is gone; the supervisor exits next).
Server to supervisor: ``cancel GRACE``. EOF or SIGTERM: SIGKILL to the group, reap, exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

_PR_SET_CHILD_SUBREAPER = 36
_POLL_SECONDS = 0.02
"""How often the group is checked once the job has exited (a grandchild's exit may not wake
us when we are not its subreaper)."""
_REAP_SECONDS = 2.0
"""How long, after SIGKILL on the server's death, to wait for the group to be reaped."""


def _become_subreaper() -> None:
    """Linux: orphaned descendants become our children, so we can reap them."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to the group; False if no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """True while any process (a zombie too) is in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Supervisor:
    """One job's life: spawn, relay commands from the server, report, reap."""

    def __init__(self, control: socket.socket, grace: float) -> None:
        self._control = control
        self._grace = grace
        self._pending = b""
        self._pgid = 0
        self._leader: subprocess.Popen[bytes] | None = None
        self._leader_done = False
        self._kill_at: float | None = None
        self._terminating = False
        self._server_gone = False

    def run(self, argv: list[str]) -> int:
        """Spawn ``argv`` and supervise it until its group is empty; the process exit code."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        # Handlers rather than SIG_IGN: an ignored signal would stay ignored in the job after
        # exec, a handler is reset to the default there.
        signal.signal(signal.SIGCHLD, _ignore)
        signal.signal(signal.SIGINT, _ignore)
        signal.signal(signal.SIGHUP, _ignore)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            self._leader = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as error:
            code = 127 if error.errno == errno.ENOENT else 126
            self._send(f"failed {code} cannot run {argv[0]}: {error.strerror or error}")
            return 0
        self._pgid = self._leader.pid
        self._send(f"spawned {self._leader.pid}")
        with selectors.DefaultSelector() as selector:
            selector.register(self._control, selectors.EVENT_READ)
            selector.register(wake_read, selectors.EVENT_READ)
            while not self._server_gone:
                for key, _ in selector.select(self._timeout()):
                    if key.fileobj is self._control:
                        self._read_control()
                    else:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_read, 4096)
                self._reap()
                self._escalate()
                if self._leader_done and not group_alive(self._pgid):
                    self._send("ended")
                    return 0
        self._kill_now()
        return 0

    # --- commands and signals ------------------------------------------------------------

    def _read_control(self) -> None:
        try:
            data = self._control.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._server_gone = True
            return
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            command, _, argument = line.decode("ascii", "replace").partition(" ")
            if command == "cancel":
                try:
                    grace = float(argument)
                except ValueError:
                    grace = self._grace
                self._terminate(max(grace, 0.0))

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._server_gone = True

    def _send(self, line: str) -> None:
        try:
            self._control.sendall(line.encode() + b"\n")
        except OSError:
            self._server_gone = True

    # --- the group -----------------------------------------------------------------------

    def _timeout(self) -> float | None:
        timeout = None if self._kill_at is None else max(0.0, self._kill_at - time.monotonic())
        if self._leader_done:
            timeout = _POLL_SECONDS if timeout is None else min(timeout, _POLL_SECONDS)
        return timeout

    def _terminate(self, grace: float) -> None:
        """SIGTERM to the group, SIGKILL once ``grace`` has passed (the earliest deadline wins)."""
        self._terminating = True
        if not _signal_group(self._pgid, signal.SIGTERM):
            return
        kill_at = time.monotonic() + grace
        self._kill_at = kill_at if self._kill_at is None else min(self._kill_at, kill_at)

    def _escalate(self) -> None:
        if self._kill_at is None or time.monotonic() < self._kill_at:
            return
        self._kill_at = None
        if _signal_group(self._pgid, signal.SIGKILL):
            self._send("killed")

    def _reap(self) -> None:
        """Collect every exited child: the job itself, and orphans we adopted as subreaper."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self._leader is not None and pid == self._leader.pid:
                self._leader.returncode = os.waitstatus_to_exitcode(status)
                self._leader_done = True
                self._send(f"exited {self._leader.returncode}")
                if not self._terminating:
                    self._terminate(self._grace)

    def _kill_now(self) -> None:
        """The server is gone: SIGKILL the group and wait (bounded) until it is reaped."""
        _signal_group(self._pgid, signal.SIGKILL)
        give_up = time.monotonic() + _REAP_SECONDS
        while group_alive(self._pgid) and time.monotonic() < give_up:
            self._reap()
            time.sleep(0.005)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A handler that does nothing: the wakeup fd already woke the loop."""


def main(arguments: list[str]) -> int:
    """``--grace SECONDS -- ARGV...``; fd 0 is the control socket."""
    grace = 10.0
    if arguments[:1] == ["--grace"]:
        grace = float(arguments[1])
        arguments = arguments[2:]
    if arguments[:1] != ["--"] or len(arguments) < 2:
        print("usage: supervisor.py [--grace SECONDS] -- ARGV...", file=sys.stderr)
        return 2
    _become_subreaper()
    control = socket.socket(fileno=0)
    return Supervisor(control, grace).run(arguments[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
