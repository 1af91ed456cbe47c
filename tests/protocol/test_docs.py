"""docs/protocol.md stays true to the protocol: every complete JSON frame in it decodes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import msgspec
import pytest

from protocol import (
    AckReason,
    ClientMessage,
    ErrorCode,
    ServerMessage,
    client_decoder,
    server_decoder,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")

_JSON_BLOCKS = re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)
EXAMPLES = [line for block in _JSON_BLOCKS for line in block.splitlines() if line.strip()]
"""One message per line in the ```json blocks."""

_SEQUENCE = re.compile(r"^\s*[\d.]+ [A-Z, ]+ (->|<-) (\{.*\})$", flags=re.MULTILINE)
SENT = [frame for arrow, frame in _SEQUENCE.findall(DOC) if arrow == "->" and "…" not in frame]
RECEIVED = [frame for arrow, frame in _SEQUENCE.findall(DOC) if arrow == "<-" and "…" not in frame]
"""Complete frames of the captured sequences (lines shortened with … are left out)."""


def _decode_either(frame: str) -> msgspec.Struct:
    try:
        return client_decoder.decode(frame)
    except msgspec.DecodeError:
        return server_decoder.decode(frame)


def test_there_is_an_example_of_every_message() -> None:
    tags = {_decode_either(line).__struct_config__.tag for line in EXAMPLES}
    every = {m.__struct_config__.tag for m in (*get_args(ClientMessage), *get_args(ServerMessage))}
    assert {"presence", "history", "cluster", "logs", "output", "who"} <= every
    assert tags == every


@pytest.mark.parametrize("frame", SENT)
def test_captured_client_frames_decode(frame: str) -> None:
    client_decoder.decode(frame)


@pytest.mark.parametrize("frame", RECEIVED)
def test_captured_server_frames_decode(frame: str) -> None:
    server_decoder.decode(frame)


def test_sequences_were_found() -> None:
    assert len(SENT) >= 10
    assert len(RECEIVED) >= 25


@pytest.mark.parametrize(
    "term",
    [
        *(f"`{reason}`" for reason in AckReason),
        *(f"`{code}`" for code in ErrorCode),
        *(f"| {code} |" for code in (1000, 1001, 1003, 1006, 1008, 1009, 1011)),
        "GET /healthz",
        "GET /schema",
    ],
)
def test_codes_are_documented(term: str) -> None:
    assert term in DOC
