"""Client names that could pass for other names are refused with ``bad_message``."""

from __future__ import annotations

import sys
import unicodedata

import msgspec
import pytest

from calc_server.runner import RunningServer
from protocol import Error, Hello, client_decoder, encode
from tests.wsclient import RawClient

INVISIBLE = [
    "\u200b",  # zero width space
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u2060",  # word joiner
    "\u2061",
    "\u2062",
    "\u2063",
    "\u2064",
    "\ufeff",  # zero width no-break space
    "\u00ad",  # soft hyphen
    "\u2028",  # line separator
    "\u3164",  # Hangul filler
    "\U000e0041",  # tag latin capital A
]


def hello(name: str) -> bytes:
    return encode(Hello(protocol=1, client=name))


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_zero_width_and_format_characters_are_refused(char: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        client_decoder.decode(hello(f"ali{char}ce"))


def test_every_format_character_is_refused() -> None:
    """The whole of Unicode category Cf, as this Python knows it, not a hand-picked list."""
    allowed = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) == "Cf" and _accepted(f"a{chr(cp)}b")
    ]
    assert allowed == []


def _accepted(name: str) -> bool:
    try:
        client_decoder.decode(hello(name))
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", ["alice", "Zoë", "山田", "calc-tui@host", "a b", "👩‍💻"[0]])
def test_ordinary_names_still_pass(name: str) -> None:
    assert _accepted(name)


async def test_a_padded_name_gets_bad_message_over_the_wire(server: RunningServer) -> None:
    client = await RawClient.open_ready(server.url)
    try:
        await client.send(hello("\u200b" * 40 + "alice"))
        error = await client.expect(Error)
        assert error.code == "bad_message"
    finally:
        await client.close()
