"""Handshakes a server refused with an HTTP status: what to tell the user, and whether to retry.

A 4xx says the request itself is wrong (no or a wrong token, a foreign origin, a path with no
WebSocket behind it), so sending it again unchanged cannot help: such refusals are final until
the user asks again (``r`` in the TUI). 408 and 429 are the 4xx that do invite a retry; a 5xx
(503 "server is full") is retried with backoff.
"""

from __future__ import annotations

from urllib.parse import urlsplit

WS_PATH = "/ws"
"""Where calc_server serves its WebSocket."""

_REASONS = {
    401: "authentication failed",
    403: "forbidden origin",
    503: "server is full",
}

_RETRYABLE_4XX = frozenset({408, 429})


def is_final(status: int) -> bool:
    """True when a handshake refused with ``status`` must not be retried automatically."""
    return 400 <= status < 500 and status not in _RETRYABLE_4XX


def describe_refusal(status: int, url: str) -> str:
    """The refusal in plain words; a 404 names the path that is calc's WebSocket."""
    if status == 404:
        path = urlsplit(url).path or "/"
        if path != WS_PATH:
            return f"nothing at {path} (HTTP 404); the path is {WS_PATH}"
        return "not found (HTTP 404)"
    return _REASONS.get(status, f"handshake refused (HTTP {status})")
