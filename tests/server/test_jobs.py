"""A real command as the calculation, through a real server: stages, end, cancel, output, logs."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable
from typing import Any

from calc_server.runner import RunningServer
from protocol import Cancel, Logs, Output, Phase, Start, State, Welcome
from tests.conftest import ServerFactory
from tests.jobs.recorder import PYTHON, ROOT, process_gone, python
from tests.server.history_client import history
from tests.wsclient import RawClient

REPORTING = python(
    "import json, sys\n"
    "print('hello')\n"
    "for i in range(1, 11):\n"
    "    print(json.dumps({'calc': {'progress': i / 10, 'message': f'step {i}/10'}}))\n"
    "print('bye', file=sys.stderr)\n"
)

# Prints "ready" once SIGTERM is ignored and its grandchild exists (pid on the next line).
STUBBORN = [
    "sh",
    "-c",
    "trap '' TERM; sleep 1000 & echo $!; echo ready; while :; do sleep 0.05; done",
]


async def job_server(factory: ServerFactory, argv: list[str], **overrides: Any) -> RunningServer:
    return await factory(job=tuple(argv), **overrides)


async def connect(server: RunningServer, raw_clients: list[RawClient]) -> RawClient:
    client = await RawClient.open_ready(server.url)
    raw_clients.append(client)
    return client


def phase(target: Phase) -> Callable[[State], bool]:
    return lambda s: s.state is target


def lines_of(client: RawClient, calculation_id: str | None = None) -> dict[int, str]:
    """Every output line the client received, by offset (broadcasts and answers alike)."""
    seen: dict[int, str] = {}
    for message in client.messages:
        if isinstance(message, Output) and message.calculation_id == (
            calculation_id or message.calculation_id
        ):
            for i, line in enumerate(message.lines):
                seen[message.offset + i] = line.text
    return seen


async def test_a_job_server_announces_job_and_output(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    server = await job_server(server_factory, REPORTING)
    client = await RawClient.open(server.url)
    raw_clients.append(client)
    welcome = await client.expect(Welcome, since=0)
    assert {"job", "output"} <= set(welcome.features)
    idle = await client.expect(State, since=0)
    assert (idle.progress, idle.message, idle.exit_code, idle.canceling) == (
        None,
        None,
        None,
        False,
    )


async def test_a_job_that_succeeds_goes_through_every_stage_with_progress(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    server = await job_server(server_factory, REPORTING)
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    assert (await client.ack("go", since=0)).accepted
    done = await client.expect(State, phase(Phase.SUCCESS), timeout=30, since=0)
    run = [s for s in client.states() if s.calculation_id == done.calculation_id]
    phases = [s.state for s in run]
    assert phases[0] is Phase.STARTING
    assert phases.index(Phase.IN_PROGRESS) < phases.index(Phase.ALMOST_DONE)
    almost = next(s for s in run if s.state is Phase.ALMOST_DONE)
    assert almost.progress is not None
    assert almost.progress >= 0.9
    assert (done.exit_code, done.progress, done.message, done.ended_by) == (
        0,
        1.0,
        "step 10/10",
        None,
    )
    assert done.stage == 3
    # the report lines are consumed; the rest arrived before the final state, in order
    texts = lines_of(client, done.calculation_id)
    assert sorted(texts.values()) == ["bye", "hello"]
    assert client.messages.index(done) > max(
        i for i, m in enumerate(client.messages) if isinstance(m, Output)
    )


async def test_a_job_that_fails_states_its_exit_code_and_last_stderr_line(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    argv = python(
        "import sys; print('working'); print('ValueError: bad', file=sys.stderr); exit(3)"
    )
    server = await job_server(server_factory, argv)
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    failed = await client.expect(State, phase(Phase.FAILED), timeout=30, since=0)
    assert (failed.exit_code, failed.ended_by, failed.message) == (3, "exit 3", "ValueError: bad")


async def test_a_job_killed_by_a_signal_fails_with_the_signal(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    argv = python(
        "import os, signal; print('up', flush=True); os.kill(os.getpid(), signal.SIGKILL)"
    )
    server = await job_server(server_factory, argv)
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    failed = await client.expect(State, phase(Phase.FAILED), timeout=30, since=0)
    assert (failed.exit_code, failed.ended_by) == (-9, "killed by SIGKILL")


async def test_cancel_waits_for_the_whole_group_refusing_starts_meanwhile(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    grace = 1.0
    server = await job_server(server_factory, STUBBORN, job_grace=grace)
    a = await connect(server, raw_clients)
    b = await connect(server, raw_clients)
    await a.send(Start(request_id="go"))
    await a.expect(
        Output, lambda o: any(line.text == "ready" for line in o.lines), timeout=30, since=0
    )
    grandchild = int(lines_of(a)[0])
    running = a.states()[-1]
    asked = time.monotonic()
    await b.send(Cancel(request_id="stop", calculation_id=running.calculation_id))
    assert (await b.ack("stop", since=0)).accepted
    canceling = await a.expect(State, lambda s: s.canceling, since=0)
    assert canceling.state.running
    assert canceling.ended_by is None
    await b.send(Start(request_id="again"))
    refused = await b.ack("again", since=0)
    assert (refused.accepted, refused.reason) == (False, "already_running")
    canceled = await a.expect(State, phase(Phase.CANCELED), timeout=30, since=0)
    took = time.monotonic() - asked
    print(f"CANCELED {took:.2f} s after the cancel (grace {grace} s)")
    assert took >= grace  # it ignored SIGTERM: only the SIGKILL after the grace ended it
    canceler = next(m for m in b.messages if isinstance(m, Welcome)).client_id
    assert (canceled.ended_by, canceled.canceling, canceled.exit_code) == (canceler, False, -9)
    assert process_gone(grandchild)  # CANCELED means every process of the group is gone


async def test_two_clients_starting_at_once_get_one_job(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    argv = python("import os; print(os.environ['CALC_CALCULATION_ID'])")
    server = await job_server(server_factory, argv)
    a = await connect(server, raw_clients)
    b = await connect(server, raw_clients)
    await asyncio.gather(a.send(Start(request_id="a")), b.send(Start(request_id="b")))
    acks = [await a.ack("a", since=0), await b.ack("b", since=0)]
    assert sorted(ack.accepted for ack in acks) == [False, True]
    done = await a.expect(State, lambda s: s.state.terminal, timeout=30, since=0)
    assert done.state is Phase.SUCCESS
    assert list(lines_of(a, done.calculation_id).values()) == [done.calculation_id]


async def test_a_flood_is_bounded_paced_and_never_holds_states_back(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    server = await job_server(server_factory, ["yes", "flood"], job_grace=1.0)
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    started = await client.expect(State, phase(Phase.IN_PROGRESS), timeout=30, since=0)
    first = await client.expect(Output, since=0)
    # ask for the logs; then a second of flood later, cancel: the states still come through
    await client.send(Logs(request_id="l1", since=0, limit=1000))
    answer = await client.expect(Output, lambda o: o.request_id == "l1", since=0)
    assert answer.offset >= 0
    assert 0 < len(answer.lines) <= 1000
    await client.expect(Output, lambda o: o.offset > first.offset + 2000, timeout=30, since=0)
    await client.send(Cancel(request_id="stop"))
    canceled = await client.expect(State, phase(Phase.CANCELED), timeout=30, since=0)
    assert canceled.calculation_id == started.calculation_id
    broadcasts = [
        m
        for m in client.messages
        if isinstance(m, Output)
        and m.request_id is None
        and m.calculation_id == started.calculation_id
    ]
    at = [client.received_at[client.messages.index(m)] for m in broadcasts]
    span = at[-1] - at[0]
    assert len(broadcasts) <= 10 * span + 5  # batched: about 10 a second, whatever the flood
    texts = [line.text for m in broadcasts for line in m.lines]
    assert any("lines skipped" in text for text in texts)  # the excess is counted, not sent
    assert {t for t in texts if "skipped" not in t} == {"flood"}


async def test_hostile_bytes_arrive_as_text_cut_and_untouched_for_the_clients_to_clean(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    code = (
        "import sys\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'bad \\xff\\xfe utf8\\n')\n"
        "out.write(b'\\x1b]0;title\\x07\\x1b[2J\\x1b[31mred\\x1b[0m\\n')\n"
        "out.write(b'x' * 10000)\n"  # never a newline
    )
    server = await job_server(server_factory, python(code))
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    done = await client.expect(State, phase(Phase.SUCCESS), timeout=30, since=0)
    texts = list(lines_of(client, done.calculation_id).values())
    assert texts[0] == "bad \ufffd\ufffd utf8"
    assert texts[1] == "\x1b]0;title\x07\x1b[2J\x1b[31mred\x1b[0m"
    assert texts[2].startswith("x" * 4000)
    assert texts[2].endswith("[line cut at 4 KiB]")
    assert len(texts[2].encode()) < 4200


async def test_a_late_joiner_gets_the_last_lines_after_its_state_and_logs_answers(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    argv = python("for i in range(150): print(f'line {i}')\nimport time; time.sleep(1000)")
    server = await job_server(server_factory, argv, job_grace=1.0)
    a = await connect(server, raw_clients)
    await a.send(Start(request_id="go"))
    await a.expect(
        Output, lambda o: any(line.text == "line 149" for line in o.lines), timeout=30, since=0
    )
    late = await RawClient.open(server.url)
    raw_clients.append(late)
    await late.expect(State, since=0)
    tail = await late.expect(Output, since=0)
    assert late.messages.index(tail) == 2  # welcome, state, then the lines
    assert (tail.offset, len(tail.lines), tail.lines[-1].text) == (50, 100, "line 149")
    await late.send(Logs(request_id="older", since=10, limit=5))
    older = await late.expect(Output, lambda o: o.request_id == "older", since=0)
    assert (older.offset, [line.text for line in older.lines]) == (
        10,
        [f"line {i}" for i in range(10, 15)],
    )
    await late.send(Cancel(request_id="stop"))
    await late.expect(State, phase(Phase.CANCELED), timeout=30, since=0)


async def test_the_example_trains_end_to_end_through_the_server(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    argv = [PYTHON, "examples/train.py", "--epochs", "5"]
    server = await job_server(server_factory, argv, job_cwd=str(ROOT))
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    done = await client.expect(State, lambda s: s.state.terminal, timeout=60, since=0)
    assert done.state is Phase.SUCCESS, done
    messages = [s.message for s in client.states() if s.message]
    assert any("epoch" in m for m in messages)
    assert done.progress == 1.0


async def test_server_shutdown_cancels_the_job_and_waits_for_its_group(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    server = await job_server(server_factory, STUBBORN, job_grace=30.0)
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    await client.expect(
        Output, lambda o: any(line.text == "ready" for line in o.lines), timeout=30, since=0
    )
    grandchild = int(lines_of(client)[0])
    await server.stop()  # the grace is capped at 5 s for a shutdown
    final = next(s for s in reversed(client.states()) if s.state.terminal)
    assert (final.state, final.ended_by) == (Phase.CANCELED, "server shutdown")
    assert process_gone(grandchild)


async def test_a_job_run_goes_into_the_history_with_its_command_exit_code_and_last_lines(
    server_factory: ServerFactory, raw_clients: list[RawClient]
) -> None:
    server = await job_server(server_factory, REPORTING)
    client = await connect(server, raw_clients)
    await client.send(Start(request_id="go"))
    done = await client.expect(State, phase(Phase.SUCCESS), timeout=30, since=0)
    (run,) = (await history(client, calculation_id=done.calculation_id)).runs
    assert run.command == shlex.join(REPORTING)
    assert (run.outcome, run.exit_code, run.last_message) == ("SUCCESS", 0, "step 10/10")
    tail = [(line.stream, line.text) for line in run.output_tail]
    assert (tail[0], tail[-1]) == (("out", "hello"), ("err", "bye"))
