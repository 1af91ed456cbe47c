"""The per-connection token bucket, driven by an injected clock."""

from __future__ import annotations

from calc_server.ratelimit import TokenBucket


def test_a_burst_then_refused_in_a_row_counted() -> None:
    bucket = TokenBucket(burst=20, rate=10.0)
    assert [bucket.take(100.0) for _ in range(20)] == [0] * 20
    assert [bucket.take(100.0) for _ in range(3)] == [1, 2, 3]


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    bucket = TokenBucket(burst=20, rate=10.0)
    for _ in range(20):
        bucket.take(0.0)
    assert bucket.take(0.05) == 1  # half a token is not enough
    assert bucket.take(0.1) == 0  # one token after 0.1 s at 10 per second
    assert bucket.take(0.1) == 1  # and the count of refusals starts again
    assert [bucket.take(0.4) for _ in range(4)] == [0, 0, 0, 1]  # three more in 0.3 s
    assert [bucket.take(1000.0) for _ in range(21)] == [0] * 20 + [1]  # capped at the burst
