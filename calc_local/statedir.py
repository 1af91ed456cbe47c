"""Where calc keeps this user's files: token files (runtime) and run history files (state).

Both go to ``$CALC_TOKEN_DIR`` when it is set. Otherwise token files go to
``$XDG_RUNTIME_DIR/calc`` (emptied at logout, which suits a secret of a running server) and
history files to ``$XDG_STATE_HOME/calc`` (which must outlive the server); either falls back
to the user's state directory (``platformdirs``: ``~/.local/state/calc`` on Linux).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

APP = "calc"


def _calc_dir(env: Mapping[str, str], xdg_variable: str) -> Path:
    """``$CALC_TOKEN_DIR``, else ``$xdg_variable/calc``, else the user's state directory."""
    if explicit := env.get("CALC_TOKEN_DIR"):
        return Path(explicit)
    # read from ``env`` (not platformdirs, which reads os.environ and, when XDG_RUNTIME_DIR is
    # unset, names /run/user/UID even where that does not exist) so callers can inject it
    if xdg := env.get(xdg_variable):
        return Path(xdg) / APP
    return platformdirs.user_state_path(APP)


def runtime_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The directory that holds token files (not created here)."""
    return _calc_dir(env, "XDG_RUNTIME_DIR")


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The directory that holds this user's history files (not created here)."""
    return _calc_dir(env, "XDG_STATE_HOME")
