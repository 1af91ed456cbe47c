"""Server-to-client WebSocket frames built once, so a broadcast writes the same bytes to all."""

from __future__ import annotations

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


_PONG_FIN = 0x8A  # FIN bit + pong opcode


def pong_frame(payload: bytes) -> bytes:
    """The pong answering a ping that carried ``payload`` (at most 125 bytes, RFC 6455 5.5)."""
    return struct.pack("!BB", _PONG_FIN, len(payload)) + payload
