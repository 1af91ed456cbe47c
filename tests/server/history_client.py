"""Asking a real server for its run history over a raw WebSocket, as any client would."""

from __future__ import annotations

import itertools
from typing import Any

from protocol import Error, History, HistoryQuery, Phase, State, Welcome
from tests.wsclient import RawClient

_ids = itertools.count(1)


async def ask(client: RawClient, **fields: Any) -> History | Error:
    """Send one ``history`` request; its answer (``history`` or ``error``)."""
    rid = f"h{next(_ids)}"
    mark = await client.send(HistoryQuery(request_id=rid, **fields))
    answer = await client.expect(
        (History, Error),  # type: ignore[arg-type]
        lambda m: m.request_id == rid,
        since=mark,
        timeout=30.0,
    )
    assert isinstance(answer, History | Error)
    return answer


async def history(client: RawClient, **fields: Any) -> History:
    """The ``history`` answer to one request (fails the test on an error)."""
    answer = await ask(client, **fields)
    assert isinstance(answer, History), answer
    return answer


async def welcome_of(url: str) -> Welcome:
    """The ``welcome`` a new connection gets."""
    client = await RawClient.open(url)
    try:
        return await client.expect(Welcome)
    finally:
        await client.close()


async def run_until(client: RawClient, phase: Phase) -> State:
    """Wait for the next state in ``phase``."""
    return await client.expect(State, lambda s: s.state is phase, timeout=30.0)
