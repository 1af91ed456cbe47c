"""Which token and which TLS settings a client uses for a URL."""

from __future__ import annotations

import argparse
import logging
import os
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from protocol.tokenfile import is_loopback, read_token

log = logging.getLogger("calc_client")


def discover_token(url: str, env: Mapping[str, str] = os.environ) -> str | None:
    """``CALC_TOKEN``, else the local token file when ``url`` points at this machine.

    A token file is only ever sent to a loopback host, so a local server's token cannot leak
    to a remote one that happens to use the same port.
    """
    if token := env.get("CALC_TOKEN"):
        return token
    parts = urlsplit(url)
    if parts.hostname is None or not is_loopback(parts.hostname):
        return None
    try:
        port = parts.port or (443 if parts.scheme == "wss" else 80)
    except ValueError:
        return None
    return read_token(port, env)


def client_ssl(cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext | bool:
    """TLS settings for wss:// URLs: verify by default, trust ``cafile`` if given.

    ``insecure`` turns verification off; callers must say so loudly to the user.
    """
    if insecure:
        return False
    if cafile is not None:
        return ssl.create_default_context(cafile=cafile)
    return True


INSECURE_WARNING = "--insecure: the server's TLS certificate is NOT verified"
"""What clients say, every time, when certificate checks are off."""


def add_security_options(
    group: argparse._ActionsContainer, env: Mapping[str, str], *, with_defaults: bool = True
) -> None:
    """``--token``, ``--cafile`` and ``--insecure``, shared by ``calc`` and ``calc-tui``.

    Without defaults (``argparse.SUPPRESS``) an option is only set when given, so a copy
    after a subcommand overrides the one before it only then.
    """

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    group.add_argument(
        "--token",
        default=default(None),
        help="access token (default: env CALC_TOKEN, else the local server's token file "
        "when the URL is on this machine)",
    )
    group.add_argument(
        "--cafile",
        default=default(env.get("CALC_CAFILE")),
        metavar="PEM",
        help="trust this CA or self-signed certificate for wss:// (env CALC_CAFILE)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        default=default(False),
        help="do NOT verify the server's TLS certificate (anyone on the path can pose as it)",
    )
