"""Where a local server leaves its access token, so local clients connect without typing it.

Shared by the server (writes) and the clients (read); standard library only. The file is
``$CALC_TOKEN_DIR`` or ``$XDG_RUNTIME_DIR/calc`` or ``~/.local/state/calc``, then
``token-<port>``, readable by its owner only (0600, in a 0700 directory).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path


def token_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The directory that holds token files."""
    if explicit := env.get("CALC_TOKEN_DIR"):
        return Path(explicit)
    if runtime := env.get("XDG_RUNTIME_DIR"):
        return Path(runtime) / "calc"
    return Path.home() / ".local" / "state" / "calc"


def token_path(port: int, env: Mapping[str, str] = os.environ) -> Path:
    """The token file of the local server on ``port``."""
    return token_dir(env) / f"token-{port}"


def write_token(port: int, token: str, env: Mapping[str, str] = os.environ) -> Path:
    """Write ``token`` for ``port`` with mode 0600 (created that way, never world-readable)."""
    path = token_path(port, env)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return path


def read_token(port: int, env: Mapping[str, str] = os.environ) -> str | None:
    """The token left by the local server on ``port``, or None."""
    try:
        return token_path(port, env).read_text().strip() or None
    except OSError:
        return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: the hosts a token file may be sent to."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
