"""Which addresses one running server names its token files after: those it listens on.

A client sends a file's token only to the exact address in the file's name, so a token is
published (``calc_local.tokenfile.token_published``) for each address the server really
listens on (a wildcard bind is reachable on the loopback address of its family).
"""

from __future__ import annotations

import ipaddress
from typing import Any

_WILDCARD_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def listening_hosts(addresses: list[Any]) -> list[str]:
    """The addresses to name token files after, from ``AppRunner.addresses``."""
    hosts: list[str] = []
    for address in addresses:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        try:
            host = ipaddress.ip_address(host).compressed
        except ValueError:
            continue  # a Unix socket path or the like: no TCP client reaches it by address
        host = _WILDCARD_LOOPBACK.get(host, host)
        if host not in hosts:
            hosts.append(host)
    return hosts
