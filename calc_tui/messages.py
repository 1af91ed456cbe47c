"""The one Textual message the connection worker posts: a ``calc_client`` event, wrapped once.

The worker owns the socket and only posts; the app reacts. Named for what already happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from calc_client.reconnect import Event


@dataclass
class ConnectionReported(Message):
    """The connection reported an event: an attempt, ``welcome``, a server message, a loss."""

    event: Event
