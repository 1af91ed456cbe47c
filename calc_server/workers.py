"""``calc-server --workers N``: N server processes on one port, sharing it with SO_REUSEPORT.

Each worker is a whole ``calc-server`` (one event loop, one core at most) and a node of the
cluster on ``--redis``: the kernel spreads new connections over the workers, and Redis keeps
them one calculation. This parent only holds the port, starts the workers, starts one again
if it dies, and stops them all on SIGINT, SIGTERM or SIGHUP (closing its terminal). If the
parent dies without stopping them (SIGKILL, a crash), they shut down by themselves: each holds
the read end of a pipe whose write end only the parent has, and the kernel closes that end
however the parent dies (``--parent-fd``, watched by ``serve``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from calc_server.config import Settings

log = logging.getLogger("calc_server.workers")

RESPAWN_DELAY = 1.0
"""Seconds before a worker that died is started again (a crash loop stays slow)."""
STOP_TIMEOUT = 10.0
"""Seconds the workers have to stop after SIGTERM before they are killed."""


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT, never listening: it fixes the port
    (a free one for port 0) for the workers, and gets no connections itself."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    holder = socket.socket(family, kind, proto)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(address)
    return holder


def worker_command(
    settings: Settings, argv: Sequence[str], port: int, index: int, parent_fd: int
) -> list[str]:
    """The command line of worker ``index``: the parent's, as one worker on ``port`` that
    watches ``parent_fd`` for the parent's death."""
    command = [sys.executable, "-m", "calc_server", *argv]
    command += ["--workers", "1", "--reuse-port", "--port", str(port)]
    command += ["--parent-fd", str(parent_fd)]
    if settings.node is not None:
        command += ["--node", f"{settings.node}-{index}"]
    return command


def run_workers(settings: Settings, argv: Sequence[str]) -> int:
    """Run ``settings.workers`` workers until SIGINT, SIGTERM or SIGHUP; the exit code of
    ``main``."""
    try:
        settings.check()
        holder = reserve_port(settings.host, settings.port)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot serve on %s:%d: %s", settings.host, settings.port, exc.strerror or exc)
        return 1
    port = holder.getsockname()[1]
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    # the write end stays here, never written, closed by the kernel when this process ends
    read_end, _alive = os.pipe()
    # at fd 3 or above, clear of the standard descriptors each worker is given (stdin
    # /dev/null, the parent's stdout and stderr), whichever of them this process lacks
    watched = fcntl.fcntl(read_end, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(read_end)
    commands = [
        worker_command(settings, argv, port, i, watched) for i in range(1, settings.workers + 1)
    ]

    def spawn(command: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, pass_fds=(watched,))

    workers = [spawn(command) for command in commands]
    log.info("%d workers sharing port %d", len(workers), port)
    try:
        while not stop.wait(0.2):
            for i, worker in enumerate(workers):
                if worker.poll() is None:
                    continue
                log.error("worker %d (pid %d) exited with %s", i + 1, worker.pid, worker.returncode)
                time.sleep(RESPAWN_DELAY)
                if not stop.is_set():
                    workers[i] = spawn(commands[i])
    finally:
        _stop_all(workers)
        holder.close()
    return 0


def _stop_all(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for worker in workers:
        try:
            worker.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("worker pid %d did not stop in time: killed", worker.pid)
            worker.kill()
            worker.wait()
