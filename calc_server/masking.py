"""RFC 6455 section 5.1: a server must close a connection whose client sends an unmasked frame.

aiohttp's frame reader accepts unmasked client frames, so this module watches the raw byte
stream in front of it: a small pure scanner that walks frame headers and skips payloads,
and a wrapper that feeds it, and on the first unmasked frame sends close 1002 and stops.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web

CLOSE_1002 = struct.pack("!BBH", 0x88, 2, WSCloseCode.PROTOCOL_ERROR)
"""A server close frame with code 1002 (protocol error) and no reason."""


class MaskScanner:
    """Follows a client byte stream frame by frame; ``feed`` is False once a frame is unmasked."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._skip = 0

    def _header_size(self) -> int:
        if len(self._head) < 2:
            return 2
        length = self._head[1] & 0x7F
        extended = 2 if length == 126 else 8 if length == 127 else 0
        return 2 + extended + 4  # every client frame carries a 4-byte masking key

    def feed(self, data: bytes | bytearray | memoryview) -> bool:
        """Scan ``data``; False as soon as a frame header without the mask bit is seen."""
        view = memoryview(data)
        i, n = 0, len(view)
        while i < n:
            if self._skip:
                taken = min(self._skip, n - i)
                self._skip -= taken
                i += taken
                continue
            need = self._header_size()
            taken = min(need - len(self._head), n - i)
            self._head += view[i : i + taken]
            i += taken
            if len(self._head) == 2 and not self._head[1] & 0x80:
                return False
            if len(self._head) < self._header_size():
                continue
            length = self._head[1] & 0x7F
            if length == 126:
                length = struct.unpack_from("!H", self._head, 2)[0]
            elif length == 127:
                length = struct.unpack_from("!Q", self._head, 2)[0]
            self._head.clear()
            self._skip = length
        return True


class _MaskGuard:
    """Stands in front of aiohttp's WebSocket reader on one connection."""

    def __init__(self, inner: Any, transport: Any, on_violation: Callable[[], None]) -> None:
        self._inner = inner
        self._transport = transport
        self._on_violation = on_violation
        self._scanner = MaskScanner()
        self._broken = False

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        if self._broken:
            return True, b""
        if not self._scanner.feed(data):
            self._broken = True
            self._on_violation()
            self._transport.write(CLOSE_1002)
            return True, b""  # end of stream: aiohttp closes the transport once flushed
        result: tuple[bool, bytes] = self._inner.feed_data(data)
        return result

    def feed_eof(self) -> None:
        self._inner.feed_eof()


def require_masked_frames(request: web.Request, on_violation: Callable[[], None]) -> None:
    """After ``prepare``: close with 1002 on the first unmasked frame from this client."""
    protocol = request.protocol
    transport = request.transport
    # aiohttp has no option for this; its reader is reached through the protocol it serves
    inner = getattr(protocol, "_payload_parser", None)
    if inner is not None and transport is not None:
        protocol._payload_parser = _MaskGuard(inner, transport, on_violation)
