"""The event loop the server runs on: uvloop where it is installed, else asyncio's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory (lower timer lateness, cheaper sends), or None for the default."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
