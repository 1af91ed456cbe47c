"""If the server is SIGKILLed, its job's whole process group dies with it: no orphans."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from tests.jobs.recorder import PYTHON, ROOT, group_gone

# The shell and its background sleep ignore SIGTERM, so only a SIGKILL to the whole group ends
# them; the shell prints its parent (the supervisor) and the grandchild's pid.
JOB = ["sh", "-c", "trap '' TERM; echo $PPID; sleep 1000 & echo $!; wait"]

BOUND_SECONDS = 15.0
"""How long the test waits before calling it broken: generous for a busy machine (the promise is
one second; the time it took is printed, see ``pytest -s``)."""


def dead(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its new parent counts as exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return True
    return fields[0] in ("Z", "X")


async def test_sigkill_of_the_server_takes_the_job_group_down_grandchildren_included() -> None:
    host = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "tests.jobs.host_job", *JOB, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    assert host.stdout is not None
    try:
        async with asyncio.timeout(30):
            pgid = int((await host.stdout.readline()).split()[1])
            supervisor = int((await host.stdout.readline()).split()[1])
            grandchild = int((await host.stdout.readline()).split()[1])
    finally:
        host.send_signal(signal.SIGKILL)
        await host.wait()
    killed_at = time.monotonic()
    assert host.returncode == -signal.SIGKILL

    try:
        while not (group_gone(pgid) and dead(grandchild) and dead(supervisor)):
            assert time.monotonic() - killed_at < BOUND_SECONDS, "the job outlived its server"
            await asyncio.sleep(0.01)
    finally:  # a failure must not leave the orphans it found behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    elapsed = time.monotonic() - killed_at
    print(f"job group gone {elapsed:.3f} s after the server's SIGKILL")
    assert group_gone(pgid)
    assert dead(grandchild)
