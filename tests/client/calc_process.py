"""Run the real ``calc`` console script as an asyncio subprocess and read what it prints.

Timeouts here only bound a failure: a Python process starts in a fraction of a second on a
quiet machine and in several seconds on one core shared with a busy loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

CALC = Path(sys.executable).parent / "calc"
"""The console script installed next to this interpreter (the editable install's entry point)."""


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any ``CALC_*`` setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALC_")}
    env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class Finished:
    """A ``calc`` run that has exited."""

    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """Standard output, line by line."""
        return self.stdout.splitlines()


class CalcProcess:
    """One running ``calc`` with pipes on stdout and stderr; stdout is read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.read_lines: list[str] = []

    @classmethod
    async def spawn(cls, *args: str, env: dict[str, str] | None = None) -> CalcProcess:
        """Start ``calc ARGS`` with a clean environment (or ``env``)."""
        process = await asyncio.create_subprocess_exec(
            str(CALC),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=clean_env() if env is None else env,
        )
        return cls(process)

    async def line(self, timeout: float = 30.0) -> str:
        """The next line of standard output; fails if none arrives within ``timeout``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            raw = await self.process.stdout.readline()
        if not raw:
            raise EOFError(f"calc exited ({await self._stderr_now()!r}) before printing a line")
        text = raw.decode().rstrip("\n")
        self.read_lines.append(text)
        return text

    async def line_containing(self, text: str, timeout: float = 30.0) -> str:
        """The first next line of standard output that contains ``text``."""
        async with asyncio.timeout(timeout):
            while text not in (line := await self.line(timeout)):
                pass
        return line

    def interrupt(self) -> None:
        """Send SIGINT, as Ctrl-C in a terminal would."""
        self.process.send_signal(signal.SIGINT)

    async def finish(self, timeout: float = 30.0) -> Finished:
        """Wait for the exit; ``stdout`` holds only what ``line`` has not read yet."""
        async with asyncio.timeout(timeout):
            out, err = await self.process.communicate()
        assert self.process.returncode is not None
        return Finished(self.process.returncode, out.decode(), err.decode())

    async def _stderr_now(self) -> str:
        assert self.process.stderr is not None
        async with asyncio.timeout(30.0):
            await self.process.wait()
            return (await self.process.stderr.read()).decode()

    async def kill(self) -> None:
        """Kill the process if it still runs and reap it."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.communicate()


async def run_calc(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> Finished:
    """Run ``calc ARGS`` to completion."""
    calc = await CalcProcess.spawn(*args, env=env)
    try:
        return await calc.finish(timeout)
    finally:
        await calc.kill()
