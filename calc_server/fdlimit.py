"""Open-file limits: every connection, finished or not, holds a descriptor.

With the soft limit low (256 on many systems) a few hundred idle sockets used to exhaust it
and lock real clients out. The server lifts its soft limit to the hard one at start, and
bounds connections that have not finished their handshake well below what is left.
"""

from __future__ import annotations

import contextlib
import resource

RESERVED = 64
"""Descriptors kept for the listening socket, logs, the loop and the token file."""

MAX_PENDING = 1024
"""Upper bound on connections still in their handshake, however high the limit."""


def raise_to_hard_limit() -> tuple[int, int]:
    """Lift the soft ``RLIMIT_NOFILE`` to the hard limit; return (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        # an unlimited hard limit may be refused (above fs.nr_open): then keep the soft one
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pending_bound() -> int:
    """How many connections may be mid-handshake at once: a quarter of the free descriptors."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MAX_PENDING
    return max(8, min(MAX_PENDING, (soft - RESERVED) // 4))
