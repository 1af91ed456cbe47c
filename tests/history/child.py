"""A history store in its own process, driven line by line on stdin, for kill and fault tests.

``python -m tests.history.child PATH [--keep N] [--drop-caps]``: opens ``SqliteHistory`` at
PATH (retrying fast), prints one JSON object per command on stdout and logs to stderr
(DEBUG, so the tests can see every retry). ``--drop-caps`` first gives up every capability,
so permission bits bind even when the tests run as root.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec

from calc_server.history import HistoryFileRefused, HistoryUnavailable, RunOutcome, SqliteHistory
from calc_server.history.writer import Backoff

_PR_CAPBSET_DROP = 24


def drop_bounding_set() -> None:
    """Empty the capability bounding set: after the next exec, root keeps no capability."""
    libc = ctypes.CDLL(None, use_errno=True)
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def drop_capabilities_and_reexec() -> None:
    """Empty the capability bounding set, then exec ourselves: root keeps no capability."""
    drop_bounding_set()
    argv = [a for a in sys.argv[1:] if a != "--drop-caps"]
    os.execv(sys.executable, [sys.executable, "-m", "tests.history.child", *argv])


def reply(**fields: Any) -> None:
    """One JSON line to the test."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def flood(store: SqliteHistory) -> None:
    """Record whole runs back to back until killed; report each once it is on disk."""
    n = 0
    while True:
        n += 1
        cid = f"flood-{os.getpid()}-{n}"
        store.record_start(cid, "flooder", command="seq 1000")
        store.record_stage(cid, 1)
        store.record_stage(cid, 2)
        store.record_end(cid, RunOutcome.SUCCESS, None, exit_code=0, last_message="done")
        await store.get(cid)
        reply(flushed=cid)


async def main() -> None:
    """Open the store and obey commands until ``close`` or end of input."""
    p = argparse.ArgumentParser()
    p.add_argument("path", type=Path)
    p.add_argument("--keep", type=int, default=10_000)
    p.add_argument("--drop-caps", action="store_true")
    args = p.parse_args()
    if args.drop_caps and os.geteuid() == 0:
        drop_capabilities_and_reexec()
    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="%(levelname)s %(message)s")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails (EFBIG)
    try:
        store = await SqliteHistory.open(
            args.path, keep=args.keep, backoff=Backoff(0.02, 0.1), read_wait=30.0
        )
    except HistoryFileRefused as refused:
        reply(refused=str(refused))
        return
    reply(opened=True, available=store.available)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        match line.split():
            case ["start", cid]:
                store.record_start(cid, "child")
                reply(ok=True)
            case ["stage", cid, stage]:
                store.record_stage(cid, int(stage))
                reply(ok=True)
            case ["end", cid, outcome]:
                store.record_end(cid, RunOutcome(outcome), "child")
                reply(ok=True)
            case ["get", cid]:
                try:
                    run = await store.get(cid)
                except HistoryUnavailable as error:
                    reply(unavailable=str(error))
                else:
                    reply(run=msgspec.to_builtins(run))
            case ["available"]:
                reply(available=store.available)
            case ["fsize", limit]:
                _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
                soft = hard if int(limit) < 0 else int(limit)
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
                reply(ok=True)
            case ["flood"]:
                await flood(store)
            case ["close"]:
                await store.close()
                reply(closed=True)
                return
            case _:
                reply(error=f"unknown command {line!r}")


if __name__ == "__main__":
    asyncio.run(main())
