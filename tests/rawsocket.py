"""A WebSocket peer built on a bare socket, for peers that misbehave on purpose.

It completes the handshake and then does exactly what the test says: nothing at all, in
particular no reading (so its receive window fills) and no answering of pings.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket


class SilentPeer:
    """A handshaken WebSocket connection that never reads and never answers pings."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int, *, receive_buffer: int = 4096) -> SilentPeer:
        """Connect with a small kernel receive buffer and finish the HTTP upgrade."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        # a small StreamReader limit: once it holds this much, asyncio stops reading the socket
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))
        writer.transport.pause_reading()
        return cls(reader, writer)

    def resume(self) -> None:
        """Start reading again (the bytes are discarded by a drain task)."""
        self.writer.transport.resume_reading()

    async def drain_all(self, until: bytes, timeout: float = 5.0) -> bytes:
        """Read and return everything until ``until`` appears in the stream."""
        self.resume()
        data = bytearray()
        async with asyncio.timeout(timeout):
            while until not in data:
                chunk = await self.reader.read(65536)
                if not chunk:
                    break
                data += chunk
        return bytes(data)

    async def closed_by_server(self, timeout: float) -> bool:
        """Read until EOF or reset; True if the server closed us within ``timeout``."""
        self.resume()
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except ConnectionResetError:
            return True
        return True

    def send_text(self, payload: bytes) -> None:
        """Send one masked client text frame (payload under 126 bytes)."""
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()
