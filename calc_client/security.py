"""Which token and which TLS settings a client uses for a URL."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from calc_local.loopback import is_loopback
from calc_local.tokenfile import read_token


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

    ``insecure`` turns verification off; callers must say so loudly to the user
    (``calc_client.options.INSECURE_WARNING``).
    """
    if insecure:
        return False
    if cafile is not None:
        return ssl.create_default_context(cafile=cafile)
    return True
