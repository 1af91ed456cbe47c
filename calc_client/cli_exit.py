"""How ``calc`` ends: its documented exit codes and the one plain line it leaves on stderr."""

from __future__ import annotations

import enum
import sys

from calc_client.text import plain


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


def write_error(message: str) -> None:
    """One plain line on stderr."""
    print(f"calc: {plain(message, limit=1000)}", file=sys.stderr, flush=True)
