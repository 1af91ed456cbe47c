"""Slowing down token guessing, and logging refusals as a summary instead of a flood.

One keep-alive connection once got 15,000 wrong guesses a second answered, each 401 a WARNING
line. Now a refused handshake closes its connection; every wrong token presented from a
source (an IPv4 address, an IPv6 /64) makes its next attempt wait twice as long as the last
(50 ms, 100 ms, ... up to 10 s), and only a few attempts from one source may wait at once;
a right token resets the source. Requests without any token are not guesses: they are
refused at once and only counted.

Refusals of every kind go to ``RefusalLog``: at most one line per interval, with counts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from calc_server.gate import bearer_token, token_matches

log = logging.getLogger("calc_server.gate")

FIRST_DELAY = 0.05
"""Seconds the next attempt from a source waits after its first wrong token."""

MAX_DELAY = 10.0
"""The delay stops doubling here (the handshake bound): 1 guess per 10 s per source."""

MAX_WAITING = 4
"""Attempts from one source that may wait at once; more get 429 without being checked."""

FORGET_AFTER = 600.0
"""Seconds of quiet after which a source's failures are forgotten."""

MAX_SOURCES = 4096
"""Sources remembered at most (the oldest is forgotten first), so memory stays bounded."""


def source_of(remote: str | None) -> str:
    """The key a peer address is limited under: the IPv4 address, or the IPv6 /64."""
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:
        return remote or "?"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(slots=True)
class _Source:
    failures: int = 0
    next_at: float = 0.0
    last_seen: float = 0.0
    waiting: int = 0


class GuessLimiter:
    """Per-source pacing of token checks, fed with the loop's monotonic clock."""

    def __init__(self) -> None:
        self._sources: dict[str, _Source] = {}

    async def wait_turn(self, remote: str | None) -> None:
        """Wait until ``remote`` may have a token checked; 429 if too many already wait."""
        loop = asyncio.get_running_loop()
        source = self._sources.get(source_of(remote))
        if source is None or source.next_at <= loop.time():
            return
        if source.waiting >= MAX_WAITING:
            raise web.HTTPTooManyRequests(
                text="too many failed attempts; slow down\n",
                headers={"Retry-After": str(int(source.next_at - loop.time()) + 1)},
            )
        source.waiting += 1
        try:
            # a deadline, not an event: other waiters' failures may push it later meanwhile
            while (wait := source.next_at - loop.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)
        finally:
            source.waiting -= 1

    def failed(self, remote: str | None) -> None:
        """A wrong token came from ``remote``: double its delay."""
        now = asyncio.get_running_loop().time()
        key = source_of(remote)
        source = self._sources.pop(key, None)
        if source is None or now - source.last_seen > FORGET_AFTER:
            source = _Source()
        source.failures += 1
        source.last_seen = now
        source.next_at = now + min(FIRST_DELAY * 2 ** (source.failures - 1), MAX_DELAY)
        self._sources[key] = source  # most recent last: the front is the oldest
        while len(self._sources) > MAX_SOURCES:
            del self._sources[next(iter(self._sources))]

    def succeeded(self, remote: str | None) -> None:
        """The right token came from ``remote``: forget its failures."""
        source = self._sources.get(source_of(remote))
        if source is not None and source.waiting == 0:
            del self._sources[source_of(remote)]


async def token_check(request: web.BaseRequest, token: str | None, guesses: GuessLimiter) -> bool:
    """``authorized(request, token)``, with presented tokens paced per source (429 if flooded)."""
    if token is None:
        return True
    presented = bearer_token(request)
    if presented is None:
        return False  # not a guess: nothing to slow down
    await guesses.wait_turn(request.remote)
    if token_matches(presented, token):
        guesses.succeeded(request.remote)
        return True
    guesses.failed(request.remote)
    return False


class RefusalLog:
    """Refused requests, logged as at most one summary line per ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._by_status: Counter[int] = Counter()
        self._by_source: Counter[str] = Counter()
        self._next_line_at = 0.0
        self._flush: asyncio.TimerHandle | None = None

    def record(self, status: int, remote: str | None) -> None:
        """Count one refusal; log now if the last line is an interval old, else later."""
        self._by_status[status] += 1
        self._by_source[source_of(remote)] += 1
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_line_at:
            self.flush()
        elif self._flush is None:
            self._flush = loop.call_at(self._next_line_at, self.flush)

    def flush(self) -> None:
        """Write the summary line for what was counted since the last one."""
        if self._flush is not None:
            # a refusal that came when the timer was due but had not run yet flushes first:
            # the timer must not write a second line right after it
            self._flush.cancel()
            self._flush = None
        total = sum(self._by_status.values())
        if not total:
            return
        statuses = ", ".join(f"{n} x {status}" for status, n in sorted(self._by_status.items()))
        source, count = self._by_source.most_common(1)[0]
        others = len(self._by_source) - 1
        log.warning(
            "refused %d request%s (%s): %d from %s%s",
            total,
            "" if total == 1 else "s",
            statuses,
            count,
            source,
            f" and {others} other source{'' if others == 1 else 's'}" if others else "",
        )
        self._by_status.clear()
        self._by_source.clear()
        self._next_line_at = asyncio.get_running_loop().time() + self._interval

    def stop(self) -> None:
        """Write what is pending and stop the timer (at shutdown)."""
        self.flush()
