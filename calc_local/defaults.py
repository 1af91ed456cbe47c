"""Where a server listens and a client connects unless told otherwise; what clients are called."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

DEFAULT_HOST = "127.0.0.1"
"""The address a server binds by default: this machine only."""

DEFAULT_PORT = 8765
"""The port a server binds by default, and the one in ``DEFAULT_URL``."""

DEFAULT_URL = f"ws://{DEFAULT_HOST}:{DEFAULT_PORT}/ws"
"""Where clients connect when neither a URL nor ``CALC_URL`` is given."""


def default_url(env: Mapping[str, str] = os.environ) -> str:
    """``CALC_URL`` from ``env``, else ``DEFAULT_URL``."""
    return env.get("CALC_URL") or DEFAULT_URL


def client_name(program: str) -> str:
    """The name a client gives in ``hello``: ``PROGRAM@HOST``, cut to the protocol's 64."""
    return f"{program}@{socket.gethostname()}"[:64]
