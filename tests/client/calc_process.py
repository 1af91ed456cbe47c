"""Run the real ``calc`` console script as an asyncio subprocess and read what it prints.

Timeouts here only bound a failure: a Python process starts in a fraction of a second on a
quiet machine and in several seconds on one core shared with a busy loop.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from tests.processes import Finished, clean_env, script

CALC = script("calc")
"""The console script installed next to this interpreter (the editable install's entry point)."""

_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
"""Run argv[1:] in this process with SIGINT at its default disposition."""


class CalcProcess:
    """One running ``calc`` with pipes on stdout and stderr; stdout is read line by line."""

    def __init__(self, process: asyncio.subprocess.Process, *, interruptible: bool) -> None:
        self.process = process
        self.interruptible = interruptible
        self.read_lines: list[str] = []

    @classmethod
    async def spawn(
        cls, *args: str, env: dict[str, str] | None = None, interruptible: bool = False
    ) -> CalcProcess:
        """Start ``calc ARGS`` with a clean environment (or ``env``).

        ``interruptible`` starts it with SIGINT at its default, as a terminal starts a command
        in the foreground: a test run started in the background (``make test &``, some CI
        runners) ignores SIGINT, every process it starts inherits that, and Python then
        leaves Ctrl-C ignored too. Python's fault handler is on, so a ``calc`` that hangs can
        be asked where it is.
        """
        command = [CALC, *args]
        if interruptible:
            command = [sys.executable, "-c", _WITH_DEFAULT_SIGINT, *command]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**(clean_env() if env is None else env), "PYTHONFAULTHANDLER": "1"},
        )
        return cls(process, interruptible=interruptible)

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
        """Send SIGINT, as Ctrl-C in a terminal would (to a ``calc`` spawned ``interruptible``:
        any other may have inherited SIGINT ignored, and would rightly not end)."""
        assert self.interruptible, "spawn calc with interruptible=True to interrupt it"
        self.process.send_signal(signal.SIGINT)

    async def finish(self, timeout: float = 30.0) -> Finished:
        """Wait for the exit; ``stdout`` holds only what ``line`` has not read yet."""
        try:
            async with asyncio.timeout(timeout):
                out, err = await self.process.communicate()
        except TimeoutError:
            where = await self._where()
            raise AssertionError(f"calc did not end in {timeout}s; it was at:\n{where}") from None
        assert self.process.returncode is not None
        return Finished(self.process.returncode, out.decode(), err.decode())

    async def _where(self) -> str:
        """The Python stacks of a ``calc`` that does not end (the fault handler's, on SIGABRT)."""
        assert self.process.stderr is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGABRT)
        async with asyncio.timeout(30.0):
            await self.process.wait()
            return (await self.process.stderr.read()).decode(errors="replace")[-4000:]

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
