"""Every machine-readable code on the wire: why an ``ack`` refused, what an ``error`` is about.

Defined once here and used by the server, the clients and the tests; the schema lists them.
The fields that carry them are plain strings to the decoder, so a client of this version still
reads a message carrying a code added later (it shows it as an unknown reason).
"""

from __future__ import annotations

import enum


class AckReason(enum.StrEnum):
    """Why a ``start`` or ``cancel`` was refused (``ack.reason``); nothing changed."""

    ALREADY_RUNNING = "already_running"
    """``start``: a calculation is already running."""
    NOT_RUNNING = "not_running"
    """``cancel``: nothing is running."""
    STALE_CALCULATION = "stale_calculation"
    """``cancel``: the calculation named is not the running one."""
    BACKPLANE_UNAVAILABLE = "backplane_unavailable"
    """Cluster mode: this node cannot reach the shared store (Redis), so it changes nothing."""


class ErrorCode(enum.StrEnum):
    """What an ``error`` message is about (``error.code``)."""

    BAD_MESSAGE = "bad_message"
    """The frame is not JSON or not a valid client message; it was ignored."""
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    """``hello`` named a protocol version this server does not speak."""
    RATE_LIMITED = "rate_limited"
    """The first message over the rate limit; more get the connection closed."""
    HISTORY_UNAVAILABLE = "history_unavailable"
    """``history``: the run history cannot be read now (disk full, read-only, locked); the
    calculation goes on and the server keeps retrying, so asking again later may work."""


class RunOutcome(enum.StrEnum):
    """How a run in the history ended (``history.runs[].outcome``)."""

    SUCCESS = "SUCCESS"
    """It went through every stage."""
    CANCELED = "CANCELED"
    """A client canceled it, or the server shut down during it."""
    FAILED = "FAILED"
    """The server hit an unexpected error (or, for a real job, the job failed)."""
    INTERRUPTED = "INTERRUPTED"
    """The server stopped unexpectedly during it (found open at the next start)."""
