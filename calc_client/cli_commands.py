"""The ``calc`` subcommands over one open link: status, start, cancel and watch.

Each command returns an ``ExitCode`` or raises ``CommandFailed`` with the code and one line
for stderr; nothing here parses arguments, connects or catches Ctrl-C (``calc_client.cli``
and ``calc_client.cli_connection`` do). ``timeout`` bounds each wait for an answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from calc_client.cli_connection import answer_deadline, next_message
from calc_client.cli_exit import CommandFailed, ExitCode
from calc_client.cli_output import (
    describe_end,
    describe_rejection,
    describe_state,
    state_json,
    timestamped,
)
from calc_client.link import Link
from calc_client.text import plain, terminal_safe
from protocol import Ack, Error, Output, Phase, State, encode


def _say(line: str) -> None:
    """A human line: server text in it is made safe for the terminal."""
    print(plain(line, limit=1000), flush=True)


def _say_json(state: State) -> None:
    """The protocol message exactly (JSON already escapes control characters)."""
    print(state_json(state), flush=True)


def _say_message(message: str, *, colors: bool) -> None:
    """A job's message, indented under the state lines; untrusted, so made terminal-safe."""
    print(f"  {plain(terminal_safe(message, colors=colors), limit=1000)}", flush=True)


async def current_state(link: Link, timeout: float) -> State:
    """The snapshot the server sends right after ``welcome``."""
    async with answer_deadline(timeout, "the current state"):
        while not isinstance(message := await next_message(link), State):
            pass
    return message


async def _request(
    link: Link, timeout: float, send: Callable[[], Awaitable[str]], what: str
) -> tuple[Ack, State]:
    """Send one command; return its ack and the state it produced (or the current one).

    The server broadcasts the change a command makes before it acks it, and the ack's ``seq``
    is that state's, so the command's own state is the one with the ack's ``seq``.
    """
    latest = await current_state(link, timeout)
    request_id = await send()
    seen: dict[int, State] = {}
    async with answer_deadline(timeout, f"the answer to {what}"):
        while True:
            message = await next_message(link)
            if isinstance(message, State):
                seen[message.seq] = latest = message
            elif isinstance(message, Ack) and message.request_id == request_id:
                break
            elif isinstance(message, Error):
                raise CommandFailed(
                    ExitCode.REJECTED, f"{what}: server error {message.code}: {message.message}"
                )
    if not message.accepted:
        raise CommandFailed(ExitCode.REJECTED, describe_rejection(what, message.reason, latest))
    caused = seen.get(message.seq)
    if caused is None:
        # Not seen (a broadcast skipped while we were behind): the next snapshot carries it.
        async with answer_deadline(timeout, f"the state after {what}"):
            while caused is None:
                state = await next_message(link)
                if isinstance(state, State) and state.seq >= message.seq:
                    caused = state
    return message, caused


async def status(link: Link, timeout: float, *, as_json: bool) -> ExitCode:
    """Print the current state once: a human line, or the protocol ``state`` JSON."""
    state = await current_state(link, timeout)
    if as_json:
        _say_json(state)
    else:
        _say(describe_state(state))
    return ExitCode.OK


async def start(link: Link, timeout: float, *, wait: bool, colors: bool = False) -> ExitCode:
    """Start a calculation; with ``wait``, follow it and exit by how it ended.

    Following a job, a line per change of stage, and the job's messages as they come.
    """
    _, started = await _request(link, timeout, link.start, "start")
    _say(f"started calculation {started.calculation_id}")
    if not wait:
        return ExitCode.OK
    _say(describe_state(started))
    current = started
    while not current.state.terminal:
        message = await next_message(link)
        if not isinstance(message, State) or message.seq <= current.seq:
            continue
        if message.calculation_id != current.calculation_id:
            raise CommandFailed(
                ExitCode.DISCONNECTED,
                f"lost track of calculation {current.calculation_id}: "
                f"calculation {message.calculation_id} is {message.state.value}",
            )
        before, current = current, message
        if current.state is not before.state or current.canceling != before.canceling:
            _say(describe_state(current))
        if current.message and current.message != before.message and not current.state.terminal:
            _say_message(current.message, colors=colors)
    if current.state is Phase.SUCCESS:
        return ExitCode.OK
    raise CommandFailed(ExitCode.UNSUCCESSFUL, describe_end(current))


async def cancel(link: Link, timeout: float) -> ExitCode:
    """Cancel the running calculation."""
    _, canceled = await _request(link, timeout, link.cancel, "cancel")
    _say(f"canceled calculation {canceled.calculation_id}")
    return ExitCode.OK


async def watch(link: Link, *, as_json: bool) -> ExitCode:
    """Print the current state, then one line per change, until the connection ends.

    With ``as_json``, a job's ``output`` messages are printed too, as they come.
    """
    last_seq = -1
    while True:
        message = await next_message(link)
        if as_json and isinstance(message, Output):
            print(encode(message).decode(), flush=True)
        elif isinstance(message, State) and message.seq > last_seq:
            last_seq = message.seq
            if as_json:
                _say_json(message)
            else:
                _say(timestamped(describe_state(message)))
