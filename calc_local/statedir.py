"""Where a local server keeps what must outlive it: its run history file.

The history goes where the token file goes when it is told (``$CALC_TOKEN_DIR``), else in the
user's state directory (``platformdirs``: ``$XDG_STATE_HOME/calc``, ``~/.local/state/calc``
on Linux). Never in ``$XDG_RUNTIME_DIR``, which holds token files but is emptied at logout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from calc_local.tokenfile import APP


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The directory that holds this user's history files (not created here)."""
    if explicit := env.get("CALC_TOKEN_DIR"):
        return Path(explicit)
    # read XDG_STATE_HOME from ``env`` so tests and callers can inject it
    if state_home := env.get("XDG_STATE_HOME"):
        return Path(state_home) / APP
    return platformdirs.user_state_path(APP)
