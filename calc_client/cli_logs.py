"""``calc logs``: print a job's output; with ``--follow``, until its run ends.

The kept lines are fetched with ``logs`` requests (as many pages as it takes), then the live
``output`` broadcasts continue from there. A gap in the offsets (lines this client missed) is
fetched again while the server still keeps it; lines it no longer keeps are counted in a line
of their own. Every line is made terminal-safe before it is printed (``terminal_safe``).
"""

from __future__ import annotations

import json
from collections import deque

from calc_client.cli_commands import current_state
from calc_client.cli_connection import answer_deadline, next_message
from calc_client.cli_exit import CommandFailed, ExitCode
from calc_client.cli_output import describe_end
from calc_client.link import Link
from calc_client.text import terminal_safe
from protocol import Output, Phase, ServerMessage, State

PAGE = 1000
"""Lines asked for per ``logs`` request (the protocol's maximum)."""


class LinePrinter:
    """Prints output lines: safe text (colours only if asked), or one JSON object per line."""

    def __init__(self, *, as_json: bool, colors: bool) -> None:
        self._as_json = as_json
        self._colors = colors

    def lines(self, output: Output, first: int) -> None:
        """Print the lines of ``output`` from offset ``first`` on."""
        start = max(first - output.offset, 0)
        for index, line in enumerate(output.lines[start:], start=output.offset + start):
            if self._as_json:  # JSON escapes every control character
                record = {
                    "calculation_id": output.calculation_id,
                    "offset": index,
                    "stream": line.stream,
                    "text": line.text,
                }
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                print(terminal_safe(line.text, colors=self._colors), flush=True)

    def missed(self, count: int) -> None:
        """Say that ``count`` lines are gone (the server no longer keeps them)."""
        if not self._as_json and count > 0:
            noun = "line" if count == 1 else "lines"
            print(f"… {count:,} {noun} no longer kept", flush=True)


class _Follower:
    """One run's lines, in order, each printed once."""

    def __init__(self, link: Link, timeout: float, printer: LinePrinter) -> None:
        self._link = link
        self._timeout = timeout
        self._printer = printer
        self._backlog: deque[ServerMessage] = deque()
        self.calculation_id: str | None = None
        self.next = 0

    async def message(self) -> ServerMessage:
        """The next message: one that arrived while a page was awaited, else a new one."""
        return self._backlog.popleft() if self._backlog else await next_message(self._link)

    async def catch_up(self) -> None:
        """Fetch and print every kept line from ``next`` on."""
        while True:
            request_id = await self._link.logs(self.next, PAGE, self.calculation_id)
            async with answer_deadline(self._timeout, "the output lines"):
                while True:
                    message = await next_message(self._link)
                    if isinstance(message, Output) and message.request_id == request_id:
                        break
                    self._backlog.append(message)
            self._printer.missed(message.offset - self.next)
            self._printer.lines(message, self.next)
            self.next = max(self.next, message.offset + len(message.lines))
            if not message.lines:
                return

    async def show(self, output: Output) -> None:
        """A broadcast of our run: print what is new, fetching first what was missed."""
        if output.calculation_id != self.calculation_id or output.request_id is not None:
            return
        if output.offset > self.next:
            await self.catch_up()
        self._printer.lines(output, self.next)
        self.next = max(self.next, output.offset + len(output.lines))


async def logs(
    link: Link,
    timeout: float,
    *,
    follow: bool,
    since: int | None,
    as_json: bool,
    colors: bool,
) -> ExitCode:
    """Print the current (or last) run's kept output; with ``follow``, until the run ends."""
    state = await current_state(link, timeout)
    follower = _Follower(link, timeout, LinePrinter(as_json=as_json, colors=colors))
    follower.calculation_id = state.calculation_id
    follower.next = since or 0
    if state.calculation_id is not None:
        await follower.catch_up()
    if not follow:
        return ExitCode.OK
    while not (state.calculation_id == follower.calculation_id and state.state.terminal):
        message = await follower.message()
        if isinstance(message, Output):
            await follower.show(message)
        elif isinstance(message, State) and message.seq > state.seq:
            state = message
            if follower.calculation_id is None:
                follower.calculation_id, follower.next = state.calculation_id, 0  # a run began
            elif state.calculation_id != follower.calculation_id:
                raise CommandFailed(
                    ExitCode.DISCONNECTED,
                    f"lost track of calculation {follower.calculation_id}: "
                    f"calculation {state.calculation_id} is {state.state.value}",
                )
    if state.state is Phase.SUCCESS:
        return ExitCode.OK
    raise CommandFailed(ExitCode.UNSUCCESSFUL, describe_end(state))
