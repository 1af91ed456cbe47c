"""Client side of protocol v1 with no UI: one connection (``Link``) and automatic reconnection.

Shared by the Textual app and the headless ``calc`` command; imports neither Textual nor the
server.
"""

from calc_client.link import ConnectFailed, Link, connect
from calc_client.reconnect import (
    Backoff,
    Connected,
    Connecting,
    Disconnected,
    Event,
    Received,
    Reconnector,
)

__all__ = [
    "Backoff",
    "ConnectFailed",
    "Connected",
    "Connecting",
    "Disconnected",
    "Event",
    "Link",
    "Received",
    "Reconnector",
    "connect",
]
