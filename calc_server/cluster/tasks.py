"""Stopping the cluster's background tasks, which talk to Redis."""

from __future__ import annotations

import asyncio
from typing import Any

CANCEL_RETRY = 0.5
"""Seconds between cancellations of a task that did not stop."""


async def cancelled(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for its end, cancelling again if a cancellation was lost.

    redis-py can swallow a CancelledError that lands while it reads a command's reply (the
    command then completes as if nothing happened): one cancel is not always enough to stop a
    loop that goes on to wait for its next piece of work.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_RETRY)
