"""The service seam: what a connection handler needs from wherever the calculation lives.

A single server keeps it in memory (``service.CalculationService``, which answers at once);
cluster mode keeps it in Redis (``cluster.node.ClusterService``, whose commands are awaited).
The application picks one when it is built; nothing else asks which it has.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol

from calc_server.calculation import Outcome
from calc_server.output_feed import OutputFeed
from protocol import State

log = logging.getLogger("calc_server.calculation")


def log_change(state: State) -> None:
    """The log line of one state change, the same from a single server and a cluster node.

    Called after the fan-out: formatting a log line is not worth a client's wait.
    """
    log.info(
        "state %s seq=%d calculation=%s%s",
        state.state.value,
        state.seq,
        state.calculation_id,
        f" ended_by={state.ended_by}" if state.ended_by else "",
    )


class Service(Protocol):
    """Start, cancel and read the shared calculation; each change reaches the hub by itself.

    A command's changes are broadcast before its outcome is returned (or its awaitable
    completes), so a client sees the state before the ack that names its ``seq``.
    """

    output: OutputFeed
    """A job's kept lines and their broadcast (in a cluster: the lines the job's node published)."""

    def snapshot(self) -> State:
        """The current state, as a joiner or a ``sync`` should see it now."""
        ...

    def start(self, by: str) -> Outcome | Awaitable[Outcome]:
        """Start a calculation on behalf of ``by``."""
        ...

    def cancel(self, by: str, calculation_id: str | None) -> Outcome | Awaitable[Outcome]:
        """Cancel the running calculation (the one named, if given) on behalf of ``by``."""
        ...

    async def shutdown(self) -> None:
        """The server is stopping: stop driving the calculation (a job gets its grace)."""
        ...
