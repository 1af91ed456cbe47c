"""Encoder and the two decoders, created once at import and shared."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from protocol.messages import ClientMessage, ServerMessage

T = TypeVar("T")

TOO_DEEP = "JSON is nested too deeply"
"""The ``DecodeError`` text for input nested deeper than the interpreter's recursion limit."""

NOT_UTF8 = "JSON is malformed: a string is not valid UTF-8"
"""The ``DecodeError`` text for a string holding bytes that are not UTF-8."""

_encoder = msgspec.json.Encoder()


class Decoder(Generic[T]):
    """A msgspec JSON decoder whose only failure is ``msgspec.DecodeError``.

    msgspec skips unknown fields recursively, so a few kilobytes of ``[[[[...]]]]`` in a field
    it ignores raise ``RecursionError``, and a string with invalid UTF-8 raises
    ``UnicodeDecodeError``; callers should need to catch one exception, not three.
    """

    __slots__ = ("_decode",)

    def __init__(self, decoder: msgspec.json.Decoder[T]) -> None:
        self._decode = decoder.decode

    def decode(self, data: bytes | bytearray | memoryview | str) -> T:
        """Decode one frame; raise ``msgspec.DecodeError`` (or its ``ValidationError``)."""
        try:
            return self._decode(data)
        except RecursionError:
            raise msgspec.DecodeError(TOO_DEEP) from None
        except UnicodeDecodeError:
            raise msgspec.DecodeError(NOT_UTF8) from None


client_decoder: Decoder[ClientMessage] = Decoder(msgspec.json.Decoder(ClientMessage))
"""Decodes a client -> server frame; raises ``msgspec.DecodeError`` on bad input."""

server_decoder: Decoder[ServerMessage] = Decoder(msgspec.json.Decoder(ServerMessage))
"""Decodes a server -> client frame; raises ``msgspec.DecodeError`` on bad input."""


def encode(message: msgspec.Struct) -> bytes:
    """Encode one message as the JSON bytes of a text frame."""
    return _encoder.encode(message)


class _Envelope(msgspec.Struct):
    request_id: str | None = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)


def request_id_of(data: bytes | str) -> str | None:
    """The ``request_id`` of a frame that failed to decode, when it has a readable one.

    Lets an ``error`` answer name the request it is about.
    """
    try:
        request_id = _envelope_decoder.decode(data).request_id
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None
    return request_id if request_id and len(request_id) <= 64 else None
