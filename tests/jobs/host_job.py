"""Hosts one CommandJob as the server would, for the test that SIGKILLs the host.

``python -m tests.jobs.host_job ARGV...`` prints ``spawned PID`` and then ``line TEXT`` for each
line of the job's output, flushed, so the test knows what to look for once the host is dead.
"""

from __future__ import annotations

import asyncio
import sys

from calc_server.jobs import CommandJob, JobEvent, Output, Spawned


def show(event: JobEvent) -> None:
    """Print what the test needs to know about the job."""
    if isinstance(event, Spawned):
        print(f"spawned {event.pid}", flush=True)
    elif isinstance(event, Output):
        for line in event.lines:
            print(f"line {line.text}", flush=True)


async def main(argv: list[str]) -> None:
    """Run ``argv`` to its end (the test kills us long before)."""
    job = CommandJob(argv, grace=60)
    job.start("hosted", show)
    await job.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
