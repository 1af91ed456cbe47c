"""argparse types shared by ``calc-server``, ``calc`` and ``calc-tui``: one rule for each kind."""

from __future__ import annotations

import argparse
import shlex
from urllib.parse import urlsplit, urlunsplit

from calc_local.names import name_problem

_WEBSOCKET_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


def port(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text!r}")
    return int(text)


def positive_seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def at_least_one(text: str) -> int:
    """A whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def client_name(text: str) -> str:
    """A client name the protocol accepts (1 to 64 characters, no control characters)."""
    if problem := name_problem(text):
        raise argparse.ArgumentTypeError(f"{problem}: {text!r}")
    return text


def websocket_url(text: str) -> str:
    """A server URL for ``calc`` and ``calc-tui``: ws:// or wss://, http(s):// mapped to them.

    An http:// URL (as ``/healthz`` is reached) names the same server, so it is taken, not
    refused: http becomes ws and https wss; the rest of the URL stays as given.
    """
    parts = urlsplit(text)
    scheme = _WEBSOCKET_SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise argparse.ArgumentTypeError(
            f"must be a ws://, wss://, http:// or https:// URL such as "
            f"ws://127.0.0.1:8765/ws, got {text!r}"
        )
    return urlunsplit(parts._replace(scheme=scheme))


def command_line(text: str) -> tuple[str, ...]:
    """A command and its arguments, split like a POSIX shell would (no shell runs it)."""
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"cannot split {text!r}: {exc}") from None
    if not argv:
        raise argparse.ArgumentTypeError("the command is empty")
    return argv
