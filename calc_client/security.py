"""Which token and which TLS settings a client uses for a URL."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from calc_local.loopback import is_loopback
from calc_local.tokenfile import read_token


def discover_token(url: str, env: Mapping[str, str] = os.environ) -> str | None:
    """``CALC_TOKEN``, else the token file of the exact loopback address in ``url``.

    A file names the address its server listens on (``token-127.0.0.1-8765``), and its token
    is only sent there: not to a remote host using the same port, nor to another local
    user's listener on the other loopback address. Host names are handled by
    ``localhost_target``.
    """
    if token := env.get("CALC_TOKEN"):
        return token
    parts = urlsplit(url)
    host = parts.hostname
    if host is None or not is_loopback(host) or host.lower() == "localhost":
        return None
    port = _port(url)
    return None if port is None else read_token(port, env, host=host)


def localhost_target(url: str, env: Mapping[str, str] = os.environ) -> tuple[str, str] | None:
    """For a ``localhost`` URL: the same URL on the loopback address whose server left a
    token file, and that token; None when there is none.

    ``localhost`` may resolve to ::1 first, where another user could be listening on the
    same port: so the client dials the exact address the token belongs to instead.
    """
    parts = urlsplit(url)
    if parts.hostname is None or parts.hostname.lower() != "localhost":
        return None
    port = _port(url)
    if port is None:
        return None
    for address in ("127.0.0.1", "::1"):
        if token := read_token(port, env, host=address):
            netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            return urlunsplit(parts._replace(netloc=netloc)), token
    return None


def _port(url: str) -> int | None:
    parts = urlsplit(url)
    try:
        return parts.port or (443 if parts.scheme == "wss" else 80)
    except ValueError:
        return None


def client_ssl(cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext | bool:
    """TLS settings for wss:// URLs: verify by default, trust ``cafile`` if given.

    ``insecure`` turns verification off; callers must say so loudly to the user
    (``calc_client.options.INSECURE_WARNING``).
    """
    if insecure:
        return False
    if cafile is not None:
        return ssl.create_default_context(cafile=cafile)
    return True
