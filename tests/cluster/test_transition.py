"""The transition script: compare-and-set on seq, fencing, epoch, one publish per change."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from calc_server.cluster.epoch import ensure_epoch
from calc_server.cluster.keys import Keys
from calc_server.cluster.lease import Lease
from calc_server.cluster.record import StateRecord, header
from calc_server.cluster.state import Change, Outcome, SharedState, Verdict
from calc_server.cluster.url import open_client
from tests.cluster.frames import state_frame

RACERS = 20


async def _created(state: SharedState, epoch: str) -> None:
    assert (await state.transition(Change(epoch, None, 0, state_frame(epoch, 0)))).applied


@pytest.fixture
async def created(client: Redis, keys: Keys) -> tuple[SharedState, str]:
    """The shared state of a new epoch, its record created at seq 0."""
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    await _created(state, epoch)
    return state, epoch


async def test_the_first_change_creates_the_record_and_only_once(client: Redis, keys: Keys) -> None:
    state = SharedState(client, keys)
    epoch = await ensure_epoch(client, keys)
    assert await state.read() is None
    await _created(state, epoch)
    again = await state.transition(Change(epoch, None, 0, state_frame(epoch, 0, by="other")))
    assert again == Outcome(Verdict.STALE_SEQ, 0)
    assert await state.read() == StateRecord(epoch, 0, state_frame(epoch, 0))


async def test_of_20_nodes_racing_from_the_same_seq_exactly_one_wins_and_is_published_once(
    redis_url: str, client: Redis, keys: Keys
) -> None:
    epoch = await ensure_epoch(client, keys)
    await _created(SharedState(client, keys), epoch)
    nodes = [open_client(redis_url) for _ in range(RACERS)]
    listener = client.pubsub()
    try:
        await listener.subscribe(keys.channel)
        states = [SharedState(node, keys) for node in nodes]
        await asyncio.gather(*(node.ping() for node in nodes))  # all connected before the race
        frames = [state_frame(epoch, 1, by=f"node-{i}") for i in range(RACERS)]
        outcomes = await asyncio.gather(
            *(s.transition(Change(epoch, 0, 1, f)) for s, f in zip(states, frames, strict=True))
        )
        winners = [i for i, outcome in enumerate(outcomes) if outcome.applied]
        assert len(winners) == 1
        assert all(o == Outcome(Verdict.STALE_SEQ, 1) for o in outcomes if not o.applied)
        assert await states[0].read() == StateRecord(epoch, 1, frames[winners[0]])

        # The one change went out once: the next message on the channel is the seq after it.
        await _next_change(states[0], epoch)
        published = [await _next_message(listener) for _ in range(2)]
        assert published[0] == header(epoch, 0, 1) + frames[winners[0]]
        assert published[1].startswith(header(epoch, 1, 2))
    finally:
        await listener.aclose()
        await asyncio.gather(*(node.aclose() for node in nodes))


async def _next_change(state: SharedState, epoch: str) -> None:
    assert (await state.transition(Change(epoch, 1, 2, state_frame(epoch, 2)))).applied


async def _next_message(listener: PubSub) -> bytes:
    async with asyncio.timeout(20):
        while True:
            message = await listener.get_message(timeout=None)
            if message is not None and message["type"] == "message":
                data: bytes = message["data"]
                return data


async def test_a_change_from_a_stale_seq_is_refused_and_says_what_is_stored(
    created: tuple[SharedState, str],
) -> None:
    state, epoch = created
    assert (await state.transition(Change(epoch, 0, 1, state_frame(epoch, 1)))).applied
    await _next_change(state, epoch)  # 0 -> 1 -> 2
    assert (await state.transition(Change(epoch, 0, 1, state_frame(epoch, 1)))).applied is False
    stale = await state.transition(Change(epoch, 1, 2, b"other"))
    assert stale == Outcome(Verdict.STALE_SEQ, 2)


async def test_a_retried_change_that_already_won_is_reported_won_without_a_second_publish(
    client: Redis, keys: Keys, created: tuple[SharedState, str]
) -> None:
    """A lost reply makes the client retry; the script must not call that a defeat."""
    state, epoch = created
    listener = client.pubsub()
    try:
        await listener.subscribe(keys.channel)
        change = Change(epoch, 0, 1, state_frame(epoch, 1))
        assert (await state.transition(change)).applied
        assert await state.transition(change) == Outcome(Verdict.APPLIED, 1)
        await _next_change(state, epoch)
        assert await _next_message(listener) == header(epoch, 0, 1) + change.frame
        assert (await _next_message(listener)).startswith(header(epoch, 1, 2))
    finally:
        await listener.aclose()


async def test_a_change_for_another_epoch_is_refused(client: Redis, keys: Keys) -> None:
    state = SharedState(client, keys)
    refused = await state.transition(Change("never-created", None, 0, b"{}"))
    assert refused == Outcome(Verdict.WRONG_EPOCH, None)
    epoch = await ensure_epoch(client, keys)
    await _created(state, epoch)
    assert (await state.transition(Change("old-epoch", 0, 1, b"{}"))).verdict is Verdict.WRONG_EPOCH


async def test_a_fenced_change_needs_the_current_lease_token(
    client: Redis, keys: Keys, created: tuple[SharedState, str]
) -> None:
    state, epoch = created
    frame = state_frame(epoch, 1)
    assert await state.transition(Change(epoch, 0, 1, frame, fence=1)) == Outcome(
        Verdict.STALE_FENCE, 0
    )
    grant = await Lease(client, keys, node="node-a", ttl=60).acquire()
    assert grant is not None
    wrong = await state.transition(Change(epoch, 0, 1, frame, fence=grant.token + 1))
    assert wrong.verdict is Verdict.STALE_FENCE
    assert (await state.transition(Change(epoch, 0, 1, frame, fence=grant.token))).applied


def test_a_change_must_move_seq_forward() -> None:
    with pytest.raises(ValueError, match="seq"):
        Change("e1", 3, 3, b"{}")
    with pytest.raises(ValueError, match="epoch"):
        Change("bad epoch", None, 0, b"{}")
