"""The token files of one running server: one per loopback address it listens on.

A client sends a file's token only to the exact address in the file's name, so a token is
written for each address the server really listens on (a wildcard bind is reachable on the
loopback address of its family) and removed for the same ones.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from protocol.tokenfile import remove_token, write_token

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


def write_tokens(addresses: list[Any], port: int, token: str) -> list[Path]:
    """Write ``token`` for every address the server listens on; the paths written."""
    return [write_token(port, token, host=host) for host in listening_hosts(addresses)]


def remove_tokens(addresses: list[Any], port: int) -> None:
    """Remove this server's token files (never another server's); never raises."""
    for host in listening_hosts(addresses):
        remove_token(port, host=host)
