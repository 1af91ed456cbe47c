"""The test side of ``tests.history.child``: start it, send commands, read replies and logs."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Child:
    """A child process holding a ``SqliteHistory``; its stderr is collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[str] = []
        self._log_changed = asyncio.Event()
        self._drain = asyncio.create_task(self._read_log())

    @classmethod
    async def start(cls, path: Path, *args: str) -> tuple[Child, dict[str, Any]]:
        """Start it on ``path``; return it with its first reply (``opened`` or ``refused``)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.history.child",
            str(path),
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        child = cls(proc)
        return child, await child.read()

    async def _read_log(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.log.append(line.decode())
            self._log_changed.set()

    async def read(self, timeout: float = 30.0) -> dict[str, Any]:
        """The next reply line."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child exited: {''.join(self.log)}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def send(self, command: str) -> dict[str, Any]:
        """Send one command and return its reply."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.read()

    def lines(self, text: str) -> list[str]:
        """Log lines containing ``text``."""
        return [line for line in self.log if text in line]

    async def wait_log(self, text: str, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until ``count`` log lines contain ``text``."""
        async with asyncio.timeout(timeout):
            while len(self.lines(text)) < count:
                self._log_changed.clear()
                await self._log_changed.wait()

    async def wait_available(self, expected: bool, timeout: float = 30.0) -> None:
        """Wait until the child's store reports ``available == expected``."""
        async with asyncio.timeout(timeout):
            while True:
                self._log_changed.clear()
                if (await self.send("available"))["available"] == expected:
                    return
                await self._log_changed.wait()  # the store logs each attempt after it

    async def kill(self) -> None:
        """SIGKILL it and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        await self._drain

    async def stop(self) -> None:
        """Close the store cleanly and wait for the exit."""
        assert (await self.send("close"))["closed"]
        async with asyncio.timeout(30):
            await self.proc.wait()
            await self._drain
