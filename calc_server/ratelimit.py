"""A token bucket, one per connection, fed with the loop's monotonic time."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """Allows ``burst`` messages at once, then ``rate`` per second.

    ``take`` returns how far into debt the caller is: 0 means allowed, n > 0 means this is the
    n-th message in a row over the limit, so the caller can warn first and close if it goes on.
    """

    burst: int
    rate: float
    _tokens: float = field(init=False)
    _stamp: float | None = field(default=None, init=False)
    _over: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    def take(self, now: float) -> int:
        """Spend one token at ``now``; 0 if allowed, else the count of refusals in a row."""
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._over = 0
            return 0
        self._over += 1
        return self._over
