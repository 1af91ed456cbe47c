"""``calc watch --reconnect``: follow the calculation across lost connections and restarts.

Built on ``calc_client.reconnect.Reconnector`` (the TUI's reconnection): the backoff, which
refusals are final, and the token looked up again at each attempt are the same. What to print
is decided by ``Follow``, a small state machine fed the reconnector's events; ``follow`` is the
loop that prints. A final refusal (401, 403, 404, close 1008) ends with exit code 2, as there
is nobody to press a key to try again.
"""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass

from calc_client.cli_connection import ConnectionOptions, check_protocol, connect_reason
from calc_client.cli_exit import CommandFailed, ExitCode, write_error
from calc_client.cli_output import describe_state, say, say_json, timestamped
from calc_client.reconnect import Connected, Disconnected, Event, Received, Reconnector
from protocol import State


@dataclass(frozen=True, slots=True)
class Note:
    """A line about the connection (not a state): lost, reconnected, the server restarted."""

    text: str


@dataclass(slots=True)
class Follow:
    """What ``watch --reconnect`` prints for each reconnector event; no I/O.

    States are printed once each: a reconnection to the same server (same ``epoch``) skips
    the ones already seen; a restarted server (new epoch) numbers its states afresh.
    """

    url: str
    epoch: str | None = None
    last_seq: int = -1
    lost: str | None = None
    """The loss being reported (so a retry failing the same way is not repeated)."""

    def on(self, event: Event) -> State | Note | None:
        """The state or note to print for ``event``, if any; raises when following must end."""
        match event:
            case Connected(welcome=welcome):
                check_protocol(welcome)
                previous, self.epoch = self.epoch, welcome.epoch
                was_lost, self.lost = self.lost, None
                if previous is None:
                    return Note("connected") if was_lost is not None else None
                if previous != welcome.epoch:
                    self.last_seq = -1
                    return Note(
                        f"reconnected: the server restarted (epoch {previous} -> {welcome.epoch})"
                    )
                return Note("reconnected") if was_lost is not None else None
            case Received(message=State() as state) if state.seq > self.last_seq:
                self.last_seq = state.seq
                return state
            case Disconnected(reason=reason, retry_in=None):
                if self.epoch is None:
                    raise CommandFailed(
                        ExitCode.DISCONNECTED,
                        f"cannot connect to {self.url}: {connect_reason(reason)}",
                    )
                raise CommandFailed(ExitCode.DISCONNECTED, f"connection lost: {reason}")
            case Disconnected(reason=reason, retry_in=retry_in):
                if reason == self.lost:
                    return None
                was_connected = self.epoch is not None and self.lost is None
                self.lost = reason
                lost = "connection lost" if was_connected else "cannot connect"
                return Note(
                    f"{lost}: {connect_reason(reason)}; reconnecting (next try in {retry_in:.1f}s)"
                )
        return None


async def follow(options: ConnectionOptions, *, as_json: bool) -> ExitCode:
    """Print states until interrupted, reconnecting whenever the connection is lost.

    Notes go with the human lines on stdout (timestamped); with ``as_json`` stdout carries
    protocol messages only, so notes go to stderr.
    """
    reconnector = Reconnector(
        options.url,
        name=options.name,
        connect_timeout=options.timeout,
        token=options.token,
        ssl=options.ssl,
    )
    follow = Follow(options.url)
    async with aclosing(reconnector.events()) as events:
        async for event in events:
            match follow.on(event):
                case State() as state if as_json:
                    say_json(state)
                case State() as state:
                    say(timestamped(describe_state(state)))
                case Note(text=text) if as_json:
                    write_error(text)
                case Note(text=text):
                    say(timestamped(text))
    raise AssertionError("the reconnector's events never end")
