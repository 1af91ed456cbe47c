"""Textual messages posted by the connection worker; named for what already happened."""

from __future__ import annotations

from textual.message import Message

from protocol import ServerMessage, Welcome


class ConnectionAttempted(Message):
    """A connection attempt began (``attempt`` counts from 1 since the last healthy link)."""

    def __init__(self, attempt: int) -> None:
        super().__init__()
        self.attempt = attempt


class ConnectionOpened(Message):
    """The server said ``welcome``; commands can be sent from now on."""

    def __init__(self, welcome: Welcome) -> None:
        super().__init__()
        self.welcome = welcome


class ConnectionLost(Message):
    """The connection failed or closed.

    ``retry_in`` is the wait before the next automatic attempt; None means a refusal that is
    retried only when the user asks.
    """

    def __init__(self, reason: str, attempt: int, retry_in: float | None) -> None:
        super().__init__()
        self.reason = reason
        self.attempt = attempt
        self.retry_in = retry_in


class ServerMessageReceived(Message):
    """A ``state``, ``ack``, ``error``, ``presence`` (or a repeated ``welcome``) arrived."""

    def __init__(self, message: ServerMessage) -> None:
        super().__init__()
        self.message = message
