"""Where a server listens and a client connects unless told otherwise; what clients are called."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping

from calc_local.names import fit_name

DEFAULT_HOST = "127.0.0.1"
"""The address a server binds by default: this machine only."""

DEFAULT_PORT = 8765
"""The port a server binds by default, and the one in ``DEFAULT_URL``."""

DEFAULT_URL = f"ws://{DEFAULT_HOST}:{DEFAULT_PORT}/ws"
"""Where clients connect when neither a URL nor ``CALC_URL`` is given."""


def default_url(env: Mapping[str, str] = os.environ) -> str:
    """``CALC_URL`` from ``env``, else ``DEFAULT_URL``."""
    return env.get("CALC_URL") or DEFAULT_URL


def default_client_name(env: Mapping[str, str] = os.environ) -> str:
    """The name a client gives in ``hello``: ``CALC_NAME``, else ``USER@HOST``.

    ``USER@HOST`` tells apart the people sharing one machine over SSH; it is made to fit the
    protocol (no control characters, at most 64). ``CALC_NAME`` is returned as it is, so the
    ``--name`` option that takes it as its default can say what is wrong with it.
    """
    if explicit := env.get("CALC_NAME"):
        return explicit
    return fit_name(f"{_user(env)}@{socket.gethostname()}")


def _user(env: Mapping[str, str]) -> str:
    """The login name: from ``env`` first (as ``getpass`` reads os.environ), else the account."""
    for key in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if user := env.get(key):
            return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such variables and no passwd entry (some containers)
        return "user"
