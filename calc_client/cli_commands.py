"""The ``calc`` subcommands over one connection: status, start, cancel and watch.

Each command returns an ``ExitCode`` or raises ``CommandFailed`` with the code and one line
for stderr; nothing here parses arguments or catches Ctrl-C (``calc_client.cli`` does).
"""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ssl import SSLContext

import aiohttp

from calc_client.cli_output import (
    describe_end,
    describe_rejection,
    describe_state,
    state_json,
    timestamped,
)
from calc_client.link import ConnectFailed, Link, connect
from calc_client.text import plain
from protocol import PROTOCOL_VERSION, Ack, Error, Phase, ServerMessage, State


class ExitCode(enum.IntEnum):
    """The documented exit codes of ``calc``."""

    OK = 0
    """Accepted; with ``start --wait``, the calculation ended SUCCESS."""
    REJECTED = 1
    """The server refused the command."""
    DISCONNECTED = 2
    """Cannot connect, or the connection was lost."""
    UNSUCCESSFUL = 3
    """``start --wait``: the calculation ended CANCELED or FAILED."""
    USAGE = 64
    """Bad option or argument (EX_USAGE; argparse's usual 2 would read as "cannot connect")."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT)."""
    BROKEN_PIPE = 141
    """Standard output was closed by its reader (128 + SIGPIPE), e.g. ``calc watch | head``."""


class CommandFailed(Exception):
    """A command ends with a non-zero exit code; ``str(exc)`` is the one line for stderr."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """How to reach the server: everything the common command-line options say."""

    url: str
    timeout: float
    """Seconds allowed for connecting, and for each answer the server owes a command."""
    name: str
    """Sent in ``hello``; the server names this client so in ``started_by``/``ended_by``."""
    token: str | None = None
    """The access token; None means CALC_TOKEN or the local token file."""
    ssl: SSLContext | bool = True
    """TLS verification for wss:// (see ``calc_client.security.client_ssl``)."""


class Inbox:
    """A link's messages, read by one background task so that a wait can time out safely.

    ``Link`` is an async generator; canceling a pending ``anext`` on it would end it, so the
    reader task owns the iteration and commands wait on a queue instead.
    """

    def __init__(self, link: Link, timeout: float) -> None:
        self.link = link
        self.timeout = timeout
        self.state: State | None = None
        """The latest state taken from the inbox."""
        self._queue: asyncio.Queue[ServerMessage | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.link:
                self._queue.put_nowait(message)
        finally:
            self._queue.put_nowait(None)

    async def next(self) -> ServerMessage:
        """The next server message; raises ``CommandFailed`` (exit 2) once the link closed."""
        message = await self._queue.get()
        if message is None:
            self._queue.put_nowait(None)
            raise CommandFailed(ExitCode.DISCONNECTED, f"connection lost: {self.link.close_reason}")
        if isinstance(message, State):
            self.state = message
        return message

    @asynccontextmanager
    async def answer_deadline(self, waiting_for: str) -> AsyncIterator[None]:
        """Bound a wait for something the server owes us by ``timeout``."""
        try:
            async with asyncio.timeout(self.timeout):
                yield
        except TimeoutError:
            raise CommandFailed(
                ExitCode.DISCONNECTED,
                f"timed out after {self.timeout:g}s waiting for {waiting_for}",
            ) from None

    async def aclose(self) -> None:
        """Stop the reader and close the connection."""
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self.link.aclose()


@asynccontextmanager
async def open_inbox(options: ConnectionOptions) -> AsyncIterator[Inbox]:
    """Connect (within ``options.timeout``, handshake included) and yield the inbox."""
    try:
        async with asyncio.timeout(options.timeout):
            link = await connect(
                options.url,
                name=options.name,
                timeout=options.timeout,
                token=options.token,
                ssl=options.ssl,
            )
    except ConnectFailed as exc:
        raise CommandFailed(
            ExitCode.DISCONNECTED, f"cannot connect to {options.url}: {_connect_reason(exc)}"
        ) from None
    except TimeoutError:
        raise CommandFailed(
            ExitCode.DISCONNECTED,
            f"cannot connect to {options.url}: timed out after {options.timeout:g}s",
        ) from None
    inbox = Inbox(link, options.timeout)
    try:
        if link.welcome.protocol != PROTOCOL_VERSION:
            raise CommandFailed(
                ExitCode.DISCONNECTED,
                f"server speaks protocol {link.welcome.protocol}, this calc speaks "
                f"{PROTOCOL_VERSION}",
            )
        yield inbox
    except BrokenPipeError:
        raise  # our stdout, not the connection: main() turns it into exit code 141
    except (ConnectionError, aiohttp.ClientError) as exc:
        raise CommandFailed(ExitCode.DISCONNECTED, f"connection lost: {exc}") from None
    finally:
        await inbox.aclose()


def _connect_reason(exc: ConnectFailed) -> str:
    """``exc.reason`` without the "cannot connect" the caller already says."""
    return exc.reason.removeprefix("cannot connect: ")


def _say(line: str) -> None:
    """A human line: server text in it is made safe for the terminal."""
    print(plain(line, limit=1000), flush=True)


def _say_json(state: State) -> None:
    """The protocol message exactly (JSON already escapes control characters)."""
    print(state_json(state), flush=True)


async def _current_state(inbox: Inbox) -> State:
    """The snapshot the server sends right after ``welcome``."""
    async with inbox.answer_deadline("the current state"):
        while inbox.state is None:
            await inbox.next()
    return inbox.state


async def _request(
    inbox: Inbox, send: Callable[[], Awaitable[str]], what: str
) -> tuple[Ack, State]:
    """Send one command; return its ack and the state it produced (or the current one).

    The server broadcasts the change a command makes before it acks it, and the ack's ``seq``
    is that state's, so the command's own state is the one with the ack's ``seq``.
    """
    await _current_state(inbox)
    request_id = await send()
    seen: dict[int, State] = {}
    async with inbox.answer_deadline(f"the answer to {what}"):
        while True:
            message = await inbox.next()
            if isinstance(message, State):
                seen[message.seq] = message
            elif isinstance(message, Ack) and message.request_id == request_id:
                break
            elif isinstance(message, Error):
                raise CommandFailed(
                    ExitCode.REJECTED, f"{what}: server error {message.code}: {message.message}"
                )
    if not message.accepted:
        raise CommandFailed(
            ExitCode.REJECTED, describe_rejection(what, message.reason, inbox.state)
        )
    caused = seen.get(message.seq)
    if caused is None:
        # Not seen (a broadcast skipped while we were behind): the next snapshot carries it.
        async with inbox.answer_deadline(f"the state after {what}"):
            while caused is None:
                state = await inbox.next()
                if isinstance(state, State) and state.seq >= message.seq:
                    caused = state
    return message, caused


async def status(inbox: Inbox, *, as_json: bool) -> ExitCode:
    """Print the current state once: a human line, or the protocol ``state`` JSON."""
    state = await _current_state(inbox)
    if as_json:
        _say_json(state)
    else:
        _say(describe_state(state))
    return ExitCode.OK


async def start(inbox: Inbox, *, wait: bool) -> ExitCode:
    """Start a calculation; with ``wait``, follow it and exit by how it ended."""
    _, started = await _request(inbox, inbox.link.start, "start")
    _say(f"started calculation {started.calculation_id}")
    if not wait:
        return ExitCode.OK
    _say(describe_state(started))
    current = started
    while not current.state.terminal:
        message = await inbox.next()
        if not isinstance(message, State) or message.seq <= current.seq:
            continue
        if message.calculation_id != current.calculation_id:
            raise CommandFailed(
                ExitCode.DISCONNECTED,
                f"lost track of calculation {current.calculation_id}: "
                f"calculation {message.calculation_id} is {message.state.value}",
            )
        current = message
        _say(describe_state(current))
    if current.state is Phase.SUCCESS:
        return ExitCode.OK
    raise CommandFailed(ExitCode.UNSUCCESSFUL, describe_end(current))


async def cancel(inbox: Inbox) -> ExitCode:
    """Cancel the running calculation."""
    _, canceled = await _request(inbox, inbox.link.cancel, "cancel")
    _say(f"canceled calculation {canceled.calculation_id}")
    return ExitCode.OK


async def watch(inbox: Inbox, *, as_json: bool) -> ExitCode:
    """Print the current state, then one line per change, until the connection ends."""
    last_seq = -1
    while True:
        message = await inbox.next()
        if isinstance(message, State) and message.seq > last_seq:
            last_seq = message.seq
            if as_json:
                _say_json(message)
            else:
                _say(timestamped(describe_state(message)))


def write_error(message: str) -> None:
    """One plain line on stderr."""
    print(f"calc: {plain(message, limit=1000)}", file=sys.stderr, flush=True)
