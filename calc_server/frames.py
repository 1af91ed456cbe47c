"""Server-to-client WebSocket frames built once, so a broadcast writes the same bytes to all."""

from __future__ import annotations

import asyncio
import socket
import struct

_TEXT_FIN = 0x81  # FIN bit + text opcode; server frames are never masked (RFC 6455 5.1)


def text_frame(payload: bytes) -> bytes:
    """One complete, unmasked, uncompressed WebSocket text frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", _TEXT_FIN, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", _TEXT_FIN, 126, n)
    else:
        header = struct.pack("!BBQ", _TEXT_FIN, 127, n)
    return header + payload


def direct_fd(transport: asyncio.BaseTransport) -> int:
    """The fd frames may be written to without ``transport``, or -1 when there is none.

    Only a plain stream socket qualifies: under TLS the transport encrypts, so raw bytes on its
    socket would break the stream. The fd stays the transport's: a writer must check
    ``transport.is_closing()`` first (the fd is closed, and its number may be reused, only
    after that turns true) and must write only while the transport has nothing pending.
    """
    if transport.get_extra_info("sslcontext") is not None:
        return -1
    if transport.get_extra_info("ssl_object") is not None:
        return -1
    sock = transport.get_extra_info("socket")
    if sock is None or sock.type != socket.SOCK_STREAM:
        return -1
    fd: int = sock.fileno()
    return fd


_PONG_FIN = 0x8A  # FIN bit + pong opcode


def pong_frame(payload: bytes) -> bytes:
    """The pong answering a ping that carried ``payload`` (at most 125 bytes, RFC 6455 5.5)."""
    return struct.pack("!BB", _PONG_FIN, len(payload)) + payload
