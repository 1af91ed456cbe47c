"""Codec: encode and decode time of one state message (msgspec), with stdlib json beside it."""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from bench.wire import sample_state
from protocol import encode, server_decoder

LOOPS = 20_000
REPEATS = 5


@dataclass(frozen=True, slots=True)
class Codec:
    """Best-of-``REPEATS`` time of one call, in microseconds, and the message size."""

    size: int
    encode_us: float
    decode_us: float
    json_dumps_us: float
    json_loads_us: float


def _best_us(call: Callable[[], object]) -> float:
    return min(timeit.repeat(call, number=LOOPS, repeat=REPEATS)) / LOOPS * 1e6


def measure_codec() -> Codec:
    """Time ``protocol.encode`` and ``server_decoder.decode`` of one state message."""
    state = sample_state(41)
    payload = encode(state)
    as_dict = msgspec.to_builtins(state)
    text = json.dumps(as_dict)
    return Codec(
        size=len(payload),
        encode_us=_best_us(lambda: encode(state)),
        decode_us=_best_us(lambda: server_decoder.decode(payload)),
        json_dumps_us=_best_us(lambda: json.dumps(as_dict)),
        json_loads_us=_best_us(lambda: json.loads(text)),
    )
