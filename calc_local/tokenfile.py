"""Where a local server leaves its access token, so local clients connect without typing it.

The whole life of a token file is here: ``token_published`` (used by ``calc-server`` and
``calc-tui --serve``) writes it when serving starts and removes it when serving ends; clients
``read_token``. The file is in ``calc_local.statedir.runtime_dir`` (``$CALC_TOKEN_DIR``, or
``$XDG_RUNTIME_DIR/calc``, or ``~/.local/state/calc``), named ``token-<address>-<port>``
(``token-127.0.0.1-8765``, ``token-::1-8765``), readable by its owner only (0600, in a 0700
directory).
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from calc_local.defaults import DEFAULT_HOST
from calc_local.statedir import runtime_dir


def token_path(port: int, env: Mapping[str, str] = os.environ, *, host: str = DEFAULT_HOST) -> Path:
    """The token file of the local server listening on exactly ``host``:``port``.

    The address is part of the name: a token is only ever sent to the address the server
    that wrote it listens on, and servers on 127.0.0.1 and ::1 with one port never share one.
    """
    try:
        address = ipaddress.ip_address(host.strip("[]")).compressed
    except ValueError:
        address = host.lower()
    return runtime_dir(env) / f"token-{address}-{port}"


class UnsafeTokenDir(OSError):
    """The token directory is not private to this user, so a token must not go there."""


def _private_dir(directory: Path) -> None:
    """Create ``directory`` (0700) or check that the existing one is ours and private."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise UnsafeTokenDir(f"{directory} is not a directory owned by this user")
    if info.st_mode & 0o077:
        directory.chmod(0o700)  # ours: tighten it rather than leak into it


def write_token(
    port: int, token: str, env: Mapping[str, str] = os.environ, *, host: str = DEFAULT_HOST
) -> Path:
    """Write ``token`` for ``port``: a new 0600 file in a private directory, then renamed.

    The temporary file is created exclusively (``mkstemp``), so nobody can plant a link
    where the token is written; raises ``UnsafeTokenDir`` if the directory is not ours.
    """
    path = token_path(port, env, host=host)
    _private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_token(
    port: int, env: Mapping[str, str] = os.environ, *, host: str = DEFAULT_HOST
) -> str | None:
    """The token left by the local server on exactly ``host``:``port``, or None.

    Only a regular file owned by this user and readable by nobody else counts; a link or a
    file someone else could have written is ignored.
    """
    try:
        fd = os.open(token_path(port, env, host=host), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd) as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return None
        if info.st_mode & 0o077:
            return None
        return f.read().strip() or None


def remove_token(
    port: int, env: Mapping[str, str] = os.environ, *, host: str = DEFAULT_HOST
) -> None:
    """Remove the token file of ``port``, if there is one; never raises.

    Only a file is removed: something else planted there (a directory) is left alone.
    """
    path = token_path(port, env, host=host)
    try:
        if stat.S_ISREG(path.lstat().st_mode):
            path.unlink()
    except OSError:
        pass


def remove_tokens(port: int, hosts: Sequence[str], env: Mapping[str, str] = os.environ) -> None:
    """Remove the token files of ``port`` on each of ``hosts``; never raises."""
    for host in hosts:
        remove_token(port, env, host=host)


@contextmanager
def token_published(
    port: int,
    token: str | None,
    env: Mapping[str, str] = os.environ,
    *,
    hosts: Sequence[str] = (DEFAULT_HOST,),
) -> Iterator[list[Path]]:
    """While the body runs, the token file of ``port`` on each of ``hosts`` holds ``token``;
    afterwards they are gone. The body gets the paths written.

    ``hosts`` are the addresses the server really listens on: a client sends a file's token
    only to the address in its name. With ``token`` None nothing is published, and files a
    crashed server left for these addresses (which would now be wrong) are removed. Raises
    ``OSError`` (``UnsafeTokenDir`` included) when a file cannot be written.
    """
    paths: list[Path] = []
    try:
        if token is None:
            remove_tokens(port, hosts, env)
        else:
            paths = [write_token(port, token, env, host=host) for host in hosts]
        yield paths
    finally:
        remove_tokens(port, hosts, env)
