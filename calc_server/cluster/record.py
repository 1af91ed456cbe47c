"""The shared state record and the published message that carries it (pure: no I/O).

Each change is published as ``b"<epoch> <prev seq or -> <seq>\\n" + frame``: the header lets a
subscriber see where the message fits (and so any gap) without decoding the frame, which it
hands on as the exact bytes stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EPOCH_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""What an epoch id may be: it sits in the published header, so no spaces or newlines."""

_HEADER_LIMIT = 160  # 64-character epoch + two 20-digit numbers + separators, with room


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One version of the shared state: the pre-encoded ``state`` message and where it sits."""

    epoch: str
    seq: int
    frame: bytes


@dataclass(frozen=True, slots=True)
class Published:
    """A change as received from the channel: the record and the seq it follows."""

    record: StateRecord
    prev: int | None
    """The seq this change replaced; None when it created the record (a new epoch's first)."""


def header(epoch: str, prev: int | None, seq: int) -> bytes:
    """The header line the transition script puts before the frame (Python twin, for tests)."""
    return f"{epoch} {'-' if prev is None else prev} {seq}\n".encode()


def parse_published(data: bytes) -> Published:
    """Split a published message into its header fields and the untouched frame bytes.

    Raises ``ValueError`` for anything that is not a well-formed message, so a stray publish
    on the channel is rejected rather than delivered.
    """
    end = data.find(b"\n", 0, _HEADER_LIMIT)
    if end < 0:
        raise ValueError("published message has no header line")
    fields = data[:end].split(b" ")
    if len(fields) != 3:
        raise ValueError("published header must have three fields")
    epoch = fields[0].decode("ascii", "replace")
    if not EPOCH_PATTERN.fullmatch(epoch):
        raise ValueError("published header has a malformed epoch")
    prev = None if fields[1] == b"-" else _seq(fields[1])
    return Published(StateRecord(epoch, _seq(fields[2]), data[end + 1 :]), prev)


def _seq(field: bytes) -> int:
    if not field.isdigit() or len(field) > 20:
        raise ValueError("published header has a malformed seq")
    return int(field)
