"""The node's ear on the cluster: published changes in, the same frame bytes out, in order.

One pub/sub connection that never reconnects silently (a reconnect is where messages get lost),
wrapped in a loop that reconnects with backoff and resyncs from the stored record each time.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from calc_server.cluster.follower import Follower, Step
from calc_server.cluster.keys import Keys
from calc_server.cluster.record import StateRecord, parse_published
from calc_server.cluster.state import SharedState
from calc_server.cluster.url import open_client, redacted_url

log = logging.getLogger(__name__)

LINK_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
"""What losing Redis looks like from redis-py: the errors a reconnect answers."""


def _ignore_link(up: bool) -> None:
    """The default link callback: nothing to tell."""


class Subscriber:
    """Follows ``keys.channel`` on the Redis at ``url`` and calls ``on_change`` with each next
    record, its ``frame`` exactly the stored bytes. Never an older record: after a gap it skips
    to the stored (newest) one rather than show a state out of order.

    ``on_link(True)`` once subscribed and resynced, ``on_link(False)`` when the connection is
    lost or the subscriber stops; between the two nothing is delivered. ``on_output`` gets each
    frame published on ``keys.output_channel`` (a job's ``output`` messages), in the order
    published, states included: Redis sends one connection its messages in publish order. The
    callbacks run on the subscriber's task and must not raise or block. A connection that stays
    silent for ``ping_interval`` after a PING (sent after as long a silence) counts as lost.
    """

    def __init__(
        self,
        url: str,
        keys: Keys,
        state: SharedState,
        *,
        on_change: Callable[[StateRecord], None],
        on_link: Callable[[bool], None] = _ignore_link,
        on_output: Callable[[bytes], None] | None = None,
        ping_interval: float = 2.0,
        retry_delay: float = 0.05,
        retry_cap: float = 2.0,
    ) -> None:
        self._url = url
        self._keys = keys
        self._state = state
        self._on_change = on_change
        self._on_link = on_link
        self._on_output = on_output
        self._output_channel = keys.output_channel.encode()
        self._ping_interval = ping_interval
        self._retry_delay = retry_delay
        self._retry_cap = retry_cap
        self._follower = Follower()
        self.linked = False
        """True while subscribed and in step with the stored record."""

    @property
    def last(self) -> StateRecord | None:
        """The last record handed on."""
        return self._follower.last

    async def run(self) -> None:
        """Follow the channel until cancelled, reconnecting with jittered exponential backoff."""
        client = open_client(self._url, retries=0, name="calc-subscriber")
        delay = self._retry_delay
        try:
            while True:
                try:
                    async with client.pubsub() as pubsub:
                        await self._subscribe(pubsub)
                        delay = self._retry_delay  # the link proved healthy
                        await self._follow(pubsub)
                except LINK_ERRORS as error:
                    self._unlink(error)
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self._retry_cap)
        finally:
            self._unlink(None)
            await client.aclose()

    async def _subscribe(self, pubsub: PubSub) -> None:
        """Subscribe, wait for the confirmation, then resync: from here on nothing is missed."""
        channels = [self._keys.channel]
        if self._on_output is not None:
            channels.append(self._keys.output_channel)
        await pubsub.subscribe(*channels)
        confirmed = 0
        while confirmed < len(channels):
            message = await pubsub.get_message(timeout=self._ping_interval)
            if message is None:
                raise RedisTimeoutError("no subscription confirmation from Redis")
            if message["type"] == "subscribe":
                confirmed += 1
        self._resync(await self._state.read())
        self.linked = True
        log.info("following %s on %s", self._keys.channel, redacted_url(self._url))
        self._on_link(True)

    async def _follow(self, pubsub: PubSub) -> None:
        awaiting_pong = False
        while True:
            message = await pubsub.get_message(timeout=self._ping_interval)
            if message is None:
                if awaiting_pong:
                    raise RedisTimeoutError("no answer to PING from Redis")
                await pubsub.ping()
                awaiting_pong = True
                continue
            awaiting_pong = False
            if message["type"] != "message":
                continue
            if self._on_output is not None and message["channel"] == self._output_channel:
                self._on_output(message["data"])
                continue
            try:
                published = parse_published(message["data"])
            except ValueError as error:
                log.warning("ignored a malformed message on %s: %s", self._keys.channel, error)
                continue
            step = self._follower.on_published(published)
            if step is Step.DELIVER:
                self._on_change(published.record)
            elif step is Step.RESYNC:
                log.info("gap before seq %d: resyncing", published.record.seq)
                self._resync(await self._state.read())

    def _resync(self, stored: StateRecord | None) -> None:
        record = self._follower.on_resync(stored)
        if record is not None:
            self._on_change(record)

    def _unlink(self, error: BaseException | None) -> None:
        if not self.linked:
            if error is not None:
                # The error's type only: redis-py's messages are not ours to vouch for.
                log.debug(
                    "cannot follow Redis at %s yet (%s)",
                    redacted_url(self._url),
                    type(error).__name__,
                )
            return
        self.linked = False
        if error is not None:
            log.warning(
                "lost Redis at %s (%s): reconnecting", redacted_url(self._url), type(error).__name__
            )
        self._on_link(False)
