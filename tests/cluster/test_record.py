"""The published message format and the follower's delivery rule, without Redis."""

from __future__ import annotations

import pytest

from calc_server.cluster.follower import Follower, Step
from calc_server.cluster.keys import Keys
from calc_server.cluster.record import Published, StateRecord, header, parse_published
from tests.cluster.frames import state_frame


def test_a_published_message_splits_into_header_fields_and_the_exact_frame() -> None:
    frame = state_frame("e1", 7)
    published = parse_published(header("e1", 6, 7) + frame)
    assert published == Published(StateRecord("e1", 7, frame), prev=6)


def test_the_first_record_of_an_epoch_follows_nothing() -> None:
    assert parse_published(header("e1", None, 0) + b"{}").prev is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"no header at all",
        b"e1 1\n{}",
        b"e1 1 2 3\n{}",
        b"e 1 x\n{}",
        b"e1 -1 2\n{}",
        b"bad\x00epoch 1 2\n{}",
        b"e1 1 " + b"9" * 30 + b"\n{}",
        b"e1 1 " + b" " * 200 + b"\n{}",
    ],
)
def test_a_malformed_message_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="published"):
        parse_published(data)


def _published(epoch: str, prev: int | None, seq: int) -> Published:
    return Published(StateRecord(epoch, seq, state_frame(epoch, seq)), prev)


def test_the_follower_delivers_the_next_change_and_drops_what_it_already_has() -> None:
    follower = Follower(StateRecord("e1", 3, b"s3"))
    assert follower.on_published(_published("e1", 3, 4)) is Step.DELIVER
    assert follower.on_published(_published("e1", 3, 4)) is Step.DROP
    assert follower.on_published(_published("e1", 2, 3)) is Step.DROP
    assert follower.last == StateRecord("e1", 4, state_frame("e1", 4))


def test_a_gap_or_a_new_epoch_in_mid_stream_asks_for_a_resync() -> None:
    follower = Follower(StateRecord("e1", 3, b"s3"))
    assert follower.on_published(_published("e1", 4, 5)) is Step.RESYNC
    assert follower.on_published(_published("e2", 8, 9)) is Step.RESYNC
    assert follower.last == StateRecord("e1", 3, b"s3")


def test_a_new_epoch_s_first_record_is_delivered_as_is() -> None:
    follower = Follower(StateRecord("e1", 3, b"s3"))
    assert follower.on_published(_published("e2", None, 0)) is Step.DELIVER
    assert follower.last == StateRecord("e2", 0, state_frame("e2", 0))


def test_a_resync_delivers_only_a_newer_record() -> None:
    follower = Follower(StateRecord("e1", 3, b"s3"))
    assert follower.on_resync(None) is None
    assert follower.on_resync(StateRecord("e1", 3, b"s3")) is None
    assert follower.on_resync(StateRecord("e1", 2, b"s2")) is None
    newer = StateRecord("e1", 9, b"s9")
    assert follower.on_resync(newer) is newer
    other_epoch = StateRecord("e2", 0, b"t0")
    assert follower.on_resync(other_epoch) is other_epoch
    assert follower.last is other_epoch


def test_key_prefixes_are_checked() -> None:
    assert Keys("app:").presence("n1") == "app:presence:n1"
    with pytest.raises(ValueError, match="prefix"):
        Keys("has space")
