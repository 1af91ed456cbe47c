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
    say,
    say_json,
    timestamped,
)
from calc_client.link import Link
from calc_client.text import plain, terminal_safe
from protocol import Ack, Error, Output, Phase, State, encode


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

    A refusal is returned too (``ack.accepted`` False, with the state that explains it); see
    ``_answered``. The server broadcasts the change a command makes before it acks it, and the
    ack's ``seq`` is that state's, so the command's own state is the one with the ack's ``seq``.
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
        return message, latest
    caused = seen.get(message.seq)
    if caused is None:
        # Not seen (a broadcast skipped while we were behind): the next snapshot carries it.
        async with answer_deadline(timeout, f"the state after {what}"):
            while caused is None:
                state = await next_message(link)
                if isinstance(state, State) and state.seq >= message.seq:
                    caused = state
    return message, caused


def _answered(what: str, ack: Ack, state: State, *, as_json: bool) -> None:
    """With ``as_json`` print the ack and the state it left; raise if the command was refused.

    The ack itself has no calculation id: the state after it, printed next, does.
    """
    if as_json:
        say_json(ack)
        say_json(state)
    if not ack.accepted:
        raise CommandFailed(ExitCode.REJECTED, describe_rejection(what, ack.reason, state))


async def status(link: Link, timeout: float, *, as_json: bool) -> ExitCode:
    """Print the current state once: a human line, or the protocol ``state`` JSON."""
    state = await current_state(link, timeout)
    if as_json:
        say_json(state)
    else:
        say(describe_state(state))
    return ExitCode.OK


async def start(
    link: Link, timeout: float, *, wait: bool, as_json: bool, colors: bool = False
) -> ExitCode:
    """Start a calculation; with ``wait``, follow it and exit by how it ended.

    ``as_json`` prints the ack, the STARTING state and, with ``wait``, every later state as
    protocol messages, one per line. Following a job, a line per change of stage, and the
    job's messages as they come.
    """
    ack, started = await _request(link, timeout, link.start, "start")
    _answered("start", ack, started, as_json=as_json)
    if not as_json:
        say(f"started calculation {started.calculation_id}")
    if not wait:
        return ExitCode.OK
    if not as_json:
        say(describe_state(started))
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
        if as_json:
            say_json(current)
            continue
        if current.state is not before.state or current.canceling != before.canceling:
            say(describe_state(current))
        if current.message and current.message != before.message and not current.state.terminal:
            _say_message(current.message, colors=colors)
    if current.state is Phase.SUCCESS:
        return ExitCode.OK
    raise CommandFailed(ExitCode.UNSUCCESSFUL, describe_end(current))


async def cancel(link: Link, timeout: float, *, as_json: bool) -> ExitCode:
    """Cancel the running calculation; ``as_json`` prints the ack and the CANCELED state."""
    ack, canceled = await _request(link, timeout, link.cancel, "cancel")
    _answered("cancel", ack, canceled, as_json=as_json)
    if not as_json:
        say(f"canceled calculation {canceled.calculation_id}")
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
                say_json(message)
            else:
                say(timestamped(describe_state(message)))
