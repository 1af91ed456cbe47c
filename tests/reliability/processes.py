"""A real ``calc-server`` process on a port of the test's choosing, for kill and restart."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

CALC_SERVER = str(Path(sys.executable).with_name("calc-server"))


class ServerProcess:
    """``calc-server`` as a subprocess (``--no-auth`` unless given a token); its log is
    collected in the background."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, log: list[str]) -> None:
        self.proc = proc
        self.url = url
        self.port = int(url.rsplit(":", 1)[1].split("/")[0])
        self.log = log
        self._logged = asyncio.Event()
        self._drain = asyncio.create_task(self._read_log())

    @classmethod
    async def start(
        cls,
        *args: str,
        port: int = 0,
        token: str | None = None,
        ready_timeout: float = 60.0,
        launcher: tuple[str, ...] = (),
    ) -> ServerProcess:
        """Start it (``--port 0`` picks a free port) and wait for its listening line.

        ``launcher`` goes before the command (e.g. a wrapper that drops privileges).
        """
        auth = ["--no-auth"] if token is None else [f"--token={token}"]  # it may start with -
        proc = await asyncio.create_subprocess_exec(
            *launcher,
            CALC_SERVER,
            *auth,
            "--port",
            str(port),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        log: list[str] = []
        async with asyncio.timeout(ready_timeout):  # a busy machine starts Python slowly
            while True:
                line = (await proc.stderr.readline()).decode()
                if not line:
                    raise RuntimeError(f"calc-server exited before listening: {log}")
                log.append(line)
                if found := re.search(r"listening on (ws://\S+)", line):
                    return cls(proc, found.group(1), log)

    async def _read_log(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.log.append(line.decode())
            self._logged.set()

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
        """Wait for the exit; return the exit code (negative: killed by that signal)."""
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._drain
        return code

    async def stop(self) -> None:
        """Kill it if it still runs."""
        if self.proc.returncode is None:
            self.proc.kill()
        await self.wait()
