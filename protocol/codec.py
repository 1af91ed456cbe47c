"""Encoder and the two decoders, created once at import and shared."""

from __future__ import annotations

import msgspec

from protocol.messages import ClientMessage, ServerMessage

_encoder = msgspec.json.Encoder()

client_decoder: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)
"""Decodes a client -> server frame; raises ``msgspec.DecodeError`` on bad input."""

server_decoder: msgspec.json.Decoder[ServerMessage] = msgspec.json.Decoder(ServerMessage)
"""Decodes a server -> client frame; raises ``msgspec.DecodeError`` on bad input."""


def encode(message: msgspec.Struct) -> bytes:
    """Encode one message as the JSON bytes of a text frame."""
    return _encoder.encode(message)
