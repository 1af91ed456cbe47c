"""Hypothesis strategies for every server message the protocol's types admit.

Built from ``msgspec.inspect`` of ``ServerMessage``, so a field added to the protocol is
generated here without touching this file. Every value is passed through the wire (encode,
then the clients' decoder), so only what a client could really receive is produced.
"""

from __future__ import annotations

import math
from datetime import UTC, timedelta, timezone
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from protocol import ServerMessage, encode, server_decoder

_INT64 = 2**63 - 1


def _ints(t: mi.IntType) -> st.SearchStrategy[int]:
    low = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else -_INT64)
    high = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else _INT64)
    edges = [v for v in (low, high, 0, 1, -1) if low <= v <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def _floats(t: mi.FloatType) -> st.SearchStrategy[float]:
    low = t.ge if t.ge is not None else t.gt
    high = t.le if t.le is not None else t.lt
    edges = [1e308, 1.7976931348623157e308, 5e-324, 0.0, 1e-9, 1e15, 2.0]
    return st.one_of(
        st.sampled_from(
            [v for v in edges if (low is None or v >= low) and (high is None or v <= high)]
        ),
        st.floats(
            min_value=low,
            max_value=high,
            exclude_min=t.gt is not None,
            exclude_max=t.lt is not None,
            allow_nan=False,
            allow_infinity=False,
        ),
    )


def _strings(t: mi.StrType) -> st.SearchStrategy[str]:
    hostile = ["", "\x1b[2J\x1b[H", "[b]markup[/b]", "\u202eevil", "a\nb\rc", "\u200b" * 100]
    base = st.one_of(st.sampled_from(hostile), st.text(max_size=300), st.just("x" * 5000))
    return base.filter(lambda s: (t.min_length or 0) <= len(s) <= (t.max_length or math.inf))


def strategy(t: mi.Type) -> st.SearchStrategy[Any]:
    """Values of the msgspec type ``t``, edges and hostile text included."""
    match t:
        case mi.IntType():
            return _ints(t)
        case mi.FloatType():
            return _floats(t)
        case mi.StrType():
            return _strings(t)
        case mi.BoolType():
            return st.booleans()
        case mi.NoneType():
            return st.none()
        case mi.DateTimeType():
            # naive or with any offset, years 1 to 9999: what RFC 3339 text can carry
            offsets = st.sampled_from([None, UTC, timezone(timedelta(hours=-23, minutes=-59))])
            return st.datetimes(timezones=offsets)
        case mi.EnumType():
            return st.sampled_from(list(t.cls))
        case mi.UnionType():
            return st.one_of(*(strategy(member) for member in t.types))
        case mi.Metadata():
            return strategy(t.type)
        case mi.ListType():
            items = st.lists(strategy(t.item_type), min_size=t.min_length or 0, max_size=5)
            return items.filter(lambda v: len(v) <= (t.max_length or math.inf))
        case mi.StructType():
            # optional fields too: a server may send every one of them
            fields = {f.name: strategy(f.type) for f in t.fields}
            return st.builds(t.cls, **fields)
    raise NotImplementedError(f"no strategy for {t!r}: extend tests/client/server_messages.py")


def _over_the_wire(message: Any) -> ServerMessage | None:
    try:
        decoded: ServerMessage = server_decoder.decode(encode(message))
    except msgspec.DecodeError:
        return None
    return decoded


server_messages: st.SearchStrategy[ServerMessage] = (
    strategy(mi.type_info(ServerMessage)).map(_over_the_wire).filter(lambda m: m is not None)
)
"""Any message a server may send that the clients' decoder accepts."""
