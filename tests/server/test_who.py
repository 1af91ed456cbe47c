"""``who``: the connected clients, oldest first, named, timestamped, capped, to the asker only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

import calc_server.who
from calc_server.runner import RunningServer
from protocol import WHO_LIMIT, Hello, Sync, Welcome, Who, WhoAnswer, server_decoder
from protocol.schema import schema
from tests.protocol.test_docs import EXAMPLES
from tests.wsclient import RawClient


def welcome_of(client: RawClient) -> Welcome:
    """The first message of a connection, which ``open_ready`` already waited for."""
    first = client.messages[0]
    assert isinstance(first, Welcome)
    return first


async def test_welcome_offers_who(server: RunningServer) -> None:
    client = await RawClient.open_ready(server.url)
    try:
        welcome = welcome_of(client)
        assert "who" in welcome.features
    finally:
        await client.close()


async def test_who_lists_every_client_in_connection_order_with_names(
    server: RunningServer,
) -> None:
    before = datetime.now(UTC)
    alice = await RawClient.open_ready(server.url)
    anonymous = await RawClient.open_ready(server.url)
    bob = await RawClient.open_ready(server.url)
    after = datetime.now(UTC)
    clients = [alice, anonymous, bob]
    try:
        await alice.send(Hello(protocol=1, client="alice@laptop"))
        await bob.send(Hello(protocol=1, client="bob@desk"))
        await bob.send(Who(request_id="w-bob-hello-is-applied"))  # after bob's hello, in order
        await bob.expect(WhoAnswer)
        await anonymous.send(Who(request_id="w1"))
        answer = await anonymous.expect(WhoAnswer, lambda a: a.request_id == "w1")

        ids = [welcome_of(c).client_id for c in clients]
        assert [c.client_id for c in answer.clients] == ids
        assert [c.name for c in answer.clients] == ["alice@laptop", None, "bob@desk"]
        assert answer.total == 3
        stamps = [c.connected_at for c in answer.clients]
        assert all(before <= t <= after for t in stamps)
        assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in stamps)
        # only the asker hears the answer: anything sent to alice before now precedes this ack
        await alice.send(Sync(request_id="s1"))
        await alice.ack("s1")
        assert not any(isinstance(m, WhoAnswer) for m in alice.messages)
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_a_client_that_left_is_not_listed(server: RunningServer) -> None:
    leaving = await RawClient.open_ready(server.url)
    staying = await RawClient.open_ready(server.url)
    try:
        gone = welcome_of(leaving).client_id
        await leaving.close()
        await staying.send(Who(request_id="w1"))
        while True:  # the server notices the close soon; ask until it has
            answer = await staying.expect(WhoAnswer)
            if gone not in [c.client_id for c in answer.clients]:
                break
            await staying.send(Who(request_id="again"))
        assert answer.total == 1
    finally:
        await staying.close()


async def test_the_list_is_capped_and_total_counts_everyone(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calc_server.who, "WHO_LIMIT", 2)
    clients = [await RawClient.open_ready(server.url) for _ in range(3)]
    try:
        ids = [welcome_of(c).client_id for c in clients]
        await clients[2].send(Who(request_id="w1"))
        answer = await clients[2].expect(WhoAnswer)
        assert [c.client_id for c in answer.clients] == ids[:2]  # the oldest two
        assert answer.total == 3
    finally:
        await asyncio.gather(*(c.close() for c in clients))


def test_the_cap_is_a_thousand_and_the_schema_says_so() -> None:
    assert WHO_LIMIT == 1000
    clients = schema()["$defs"]["WhoAnswer"]["properties"]["clients"]
    assert clients["maxItems"] == 1000


def test_the_documented_answer_decodes_as_a_who_answer() -> None:
    frames = [line for line in EXAMPLES if '"clients":[' in line]
    assert len(frames) == 1
    answer = server_decoder.decode(frames[0])
    assert isinstance(answer, WhoAnswer)
    assert answer.total == len(answer.clients) == 2
