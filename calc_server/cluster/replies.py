"""Narrowing redis-py replies: our clients never decode, so every string reply is bytes."""

from __future__ import annotations


def as_bytes(value: object) -> bytes:
    """A string reply as bytes; anything else means the client was misconfigured."""
    if not isinstance(value, bytes):
        raise TypeError(f"expected bytes from Redis, got {type(value).__name__}")
    return value


def as_text(value: object) -> str:
    """A string reply holding ASCII/UTF-8 text (ids, numbers) as ``str``."""
    return as_bytes(value).decode()
