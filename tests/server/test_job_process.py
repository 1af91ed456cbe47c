"""A real ``calc-server --job`` process: a bad command, a signal, a SIGKILL with a job running."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest

from protocol import Output, Phase, Start, State
from tests.jobs.recorder import group_gone
from tests.jobs.test_server_killed import BOUND_SECONDS, dead
from tests.processes import ServerProcess, refused
from tests.wsclient import RawClient

# Ignores SIGTERM, like its background grandchild; prints the grandchild's pid, then "ready".
STUBBORN = "sh -c \"trap '' TERM; sleep 1000 & echo $!; echo ready; wait\""


async def running_job(server: ServerProcess) -> tuple[RawClient, int]:
    """Start the job through a client; return the client and the job's grandchild pid."""
    client = await RawClient.open_ready(server.url)
    await client.send(Start(request_id="go"))
    await client.expect(
        Output, lambda o: any(line.text == "ready" for line in o.lines), timeout=30, since=0
    )
    first = next(m for m in client.messages if isinstance(m, Output))
    return client, int(first.lines[0].text)


async def test_a_missing_executable_is_refused_with_one_line_and_exit_64() -> None:
    result = await refused("--no-auth", "--job", "no-such-program-here --flag")
    assert result.code == 64
    assert result.stderr.count("\n") == 1
    assert "job executable not found in PATH: no-such-program-here" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_a_history_file_in_cluster_mode_is_refused_with_one_line_and_exit_64(
    workers: str,
) -> None:
    # refused before anything is opened: the Redis URL is never reached
    args = ["--token", "t" * 32, "--history", "runs.sqlite3", "--redis", "redis://127.0.0.1:1/0"]
    result = await refused(*args, "--workers", workers)
    assert result.code == 64
    assert result.stderr.count("\n") == 1
    assert "--history is not used in cluster mode (--redis)" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
async def test_a_signal_cancels_the_job_then_the_server_exits_0(sig: signal.Signals) -> None:
    server = await ServerProcess.start("--job", STUBBORN, "--job-grace", "30")
    try:
        client, grandchild = await running_job(server)
        try:
            server.signal(sig)
            final = await client.expect(State, lambda s: s.state.terminal, timeout=30, since=0)
            assert (final.state, final.ended_by) == (Phase.CANCELED, "server shutdown")
            assert dead(grandchild)  # CANCELED only once the whole group is gone
            assert await server.wait(timeout=30) == 0
        finally:
            await client.close()
    finally:
        await server.stop()


async def test_sigkill_of_the_server_leaves_no_process_of_the_job() -> None:
    server = await ServerProcess.start("--job", STUBBORN)
    try:
        client, grandchild = await running_job(server)
        await client.close()
        pgid = os.getpgid(grandchild)
        server.signal(signal.SIGKILL)
        assert await server.wait(timeout=30) == -signal.SIGKILL
        killed_at = time.monotonic()
        try:
            while not (group_gone(pgid) and dead(grandchild)):
                assert time.monotonic() - killed_at < BOUND_SECONDS, "the job outlived the server"
                await asyncio.sleep(0.01)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        print(f"job gone {time.monotonic() - killed_at:.3f} s after calc-server's SIGKILL")
    finally:
        await server.stop()
