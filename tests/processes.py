"""Our console scripts as real processes for tests: ``calc-server``, ``calc-tui``, run to exit.

The one home for spawning them: a server started until it listens (``ServerProcess``) or run
until it refuses (``refused``), any script run to its exit (``run_to_exit``), ``calc-tui`` on
a pseudo-terminal (``TerminalApp``), and the clean environment and free port they start with.
``calc`` itself, read line by line, is ``tests.client.calc_process``.

Timeouts here only bound a failure: a busy machine starts Python slowly.
"""

from __future__ import annotations

import asyncio
import enum
import os
import re
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from calc_local.tokenfile import read_token


def script(name: str) -> str:
    """Our console script ``name``, installed next to this interpreter (the editable install)."""
    return str(Path(sys.executable).with_name(name))


CALC_SERVER = script("calc-server")
CALC_TUI = script("calc-tui")

READY_TIMEOUT = 60.0
"""Seconds a process may take to listen or to refuse (generous: a busy two-core machine)."""

_LISTENING = re.compile(r"listening on (wss?://\S+)")


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any ``CALC_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALC_")}
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (bound once, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Auth(enum.Enum):
    """What ``ServerProcess.start`` says about authentication (a ``str`` is a token instead)."""

    OFF = "--no-auth"
    """``--no-auth``: any client gets in."""
    SERVER_DEFAULT = ""
    """No flag: the arguments and the environment decide; by default a generated token."""


class ServerProcess:
    """``calc-server`` as a subprocess; its log (stderr) is collected line by line."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        url: str,
        log: list[str],
        *,
        auth: Auth | str,
        env: Mapping[str, str],
    ) -> None:
        self.proc = proc
        self.url = url
        self.port = int(url.rsplit(":", 1)[1].split("/")[0])
        self.log = log
        self.head = "".join(log)  # the log up to and with the listening line
        self._auth = auth
        self._env = env
        self._logged = asyncio.Event()
        self._drain = asyncio.create_task(self._read_log())

    @classmethod
    async def start(
        cls,
        *args: str,
        port: int = 0,
        auth: Auth | str = Auth.OFF,
        env: Mapping[str, str] | None = None,
        launcher: tuple[str, ...] = (),
        preexec_fn: Callable[[], None] | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> ServerProcess:
        """Start ``calc-server AUTH --port PORT ARGS`` and wait for its listening line.

        ``--port 0`` picks a free port (a later ``--port`` in ``args`` wins). ``env`` None
        inherits the test's environment. ``launcher`` goes before the command (e.g. a wrapper
        that drops privileges); ``preexec_fn`` runs in the child before it (e.g. a limit).
        Raises ``RuntimeError`` with the log if the server exits before listening.
        """
        if isinstance(auth, Auth):
            flags = [auth.value] if auth.value else []
        else:
            flags = [f"--token={auth}"]  # the token may start with -
        proc = await asyncio.create_subprocess_exec(
            *launcher,
            CALC_SERVER,
            *flags,
            "--port",
            str(port),
            *args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=preexec_fn,
        )
        assert proc.stderr is not None
        log: list[str] = []
        async with asyncio.timeout(ready_timeout):
            while line := (await proc.stderr.readline()).decode():
                log.append(line)
                if found := _LISTENING.search(line):
                    return cls(proc, found.group(1), log, auth=auth, env=env or os.environ)
        raise RuntimeError(f"calc-server exited before listening: {log}")

    async def _read_log(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.log.append(line.decode())
            self._logged.set()

    @property
    def headers(self) -> dict[str, str]:
        """The handshake header a client of this server sends (none with ``--no-auth``).

        With ``Auth.SERVER_DEFAULT`` the token is the one the server wrote to its token file.
        """
        if self._auth is Auth.OFF:
            return {}
        if isinstance(self._auth, str):
            return {"Authorization": f"Bearer {self._auth}"}
        token = read_token(self.port, self._env)
        assert token, "calc-server wrote no token file"
        return {"Authorization": f"Bearer {token}"}

    @property
    def log_text(self) -> str:
        """The log so far, as one string."""
        return "".join(self.log)

    async def wait_log(self, text: str, timeout: float = 30.0) -> None:
        """Wait until a line of the log contains ``text``."""
        async with asyncio.timeout(timeout):
            while not any(text in line for line in self.log):
                self._logged.clear()
                await self._logged.wait()

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the server."""
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:
        """Wait for the exit and the log's end; the exit code (negative: killed by a signal)."""
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._drain
        return code

    async def shut_down(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a service manager stops it; wait for the exit and return its code."""
        self.signal(signal.SIGTERM)
        return await self.wait(timeout)

    async def stop(self) -> None:
        """Kill it if it still runs."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.wait()


@dataclass(frozen=True, slots=True)
class Finished:
    """One of our console scripts, run until it exited."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """Standard output, line by line."""
        return self.stdout.splitlines()

    @property
    def log_lines(self) -> list[str]:
        """Standard error (a server's log), line by line."""
        return self.stderr.splitlines()


async def run_to_exit(
    command: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = READY_TIMEOUT
) -> Finished:
    """Run ``COMMAND ARGS`` (a path, e.g. ``CALC_SERVER``) with pipes until it exits.

    ``env`` None inherits the test's environment.
    """
    proc = await asyncio.create_subprocess_exec(
        command,
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(), err.decode())


async def refused(*args: str, env: Mapping[str, str] | None = None) -> Finished:
    """Run ``calc-server --port 0 ARGS`` (a later ``--port`` wins), which should not start.

    No authentication flag is added: a refusal test says every flag it means.
    """
    return await run_to_exit(CALC_SERVER, "--port", "0", *args, env=env)


class TerminalApp:
    """``calc-tui`` attached to a pseudo-terminal whose output is drained."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int, port: int) -> None:
        self.proc = proc
        self.master = master
        self.port = port
        self.output = bytearray()
        self._more = asyncio.Event()
        asyncio.get_running_loop().add_reader(master, self._drain)

    @classmethod
    async def start(cls, *args: str, port: int, env: Mapping[str, str]) -> TerminalApp:
        """Start ``calc-tui ARGS`` on a new pseudo-terminal; ``port`` is its server's port."""
        master, slave = os.openpty()
        try:
            proc = await asyncio.create_subprocess_exec(
                CALC_TUI, *args, stdin=slave, stdout=slave, stderr=slave, env=env
            )
        finally:
            os.close(slave)
        return cls(proc, master, port)

    def _drain(self) -> None:
        try:
            self.output += os.read(self.master, 65536)
        except OSError:
            asyncio.get_running_loop().remove_reader(self.master)
        self._more.set()

    async def shows(self, text: bytes, timeout: float = 10.0) -> None:
        """Wait until the terminal output contains ``text``."""
        async with asyncio.timeout(timeout):
            while text not in self.output:
                self._more.clear()
                await self._more.wait()

    def close(self) -> None:
        """Close the terminal's master side, as a closed window or a dropped SSH link does."""
        if self.master >= 0:
            asyncio.get_running_loop().remove_reader(self.master)
            os.close(self.master)
            self.master = -1

    async def stop(self) -> None:
        """Kill it if it still runs, then close its terminal."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.close()
