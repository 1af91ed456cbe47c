"""Case 3: a line that goes silent in both directions is noticed by both ends.

A proxy between one client and the server stops forwarding without closing anything (no FIN,
no reset), as a dead NAT entry or a dropped Wi-Fi does. The server's heartbeat drops the peer
within two intervals (another client, connected directly, is told by ``presence``); the
client's own heartbeat notices within one and a half of its interval, and it reconnects by
itself once the line works again.
"""

from __future__ import annotations

import asyncio

from calc_client.reconnect import Backoff, Connected, Disconnected, Received, Reconnector
from calc_server.keys import HUB
from protocol import State
from tests.conftest import ServerFactory, both_presence_delays
from tests.looplag import LoopLag
from tests.reliability.events import EventLog
from tests.reliability.proxy import BlackholeProxy
from tests.reliability.swarm import Watcher, new_session

SERVER_HEARTBEAT = 0.4
CLIENT_HEARTBEAT = 0.6
STALLS = 3
"""Late callbacks a bound allows for: the heartbeat's ping timer, its pong deadline, and the
read that reports the drop (the allowance each is what the loop was measured to lag)."""


@both_presence_delays
async def test_silent_line_is_dropped_by_both_ends_and_the_client_reconnects_on_heal(
    server_factory: ServerFactory, presence_delay: float
) -> None:
    server = await server_factory(heartbeat=SERVER_HEARTBEAT)
    hub = server.app[HUB]
    proxy = await BlackholeProxy(server.host, server.port).start()
    loop = asyncio.get_running_loop()
    client = EventLog(
        Reconnector(
            proxy.url,
            name="behind-proxy",
            heartbeat=CLIENT_HEARTBEAT,
            connect_timeout=1.0,  # ends attempts into the dead line; a live one needs far less
            backoff=Backoff(base=0.05, cap=0.2),
        )
    )
    async with LoopLag() as lag, new_session() as session:
        observer = await Watcher.open(session, server.url)
        try:
            await client.next(Connected)
            await client.next(Received, lambda r: isinstance(r.message, State))
            await observer.until(lambda w: w.presence == 2)

            proxy.partition()
            cut = loop.time()
            await observer.until(lambda w: w.presence == 1)
            server_noticed = loop.time() - cut
            assert len(hub) == 1
            noticed_at, lost = await client.next(Disconnected)
            client_noticed = noticed_at - cut
            assert not lost.fatal, "a lost line is retried"

            # while the line is dead, attempts time out and nothing connects
            attempts = await asyncio.wait_for(_failed_attempts(client, 2), timeout=30)
            assert not client.skipped_since(cut, Connected)

            proxy.heal()
            healed = loop.time()
            await client.next(Connected)
            await client.next(Received, lambda r: isinstance(r.message, State))
            reconnected = loop.time() - healed
            link = client.reconnector.link
            assert link is not None
            rid = await link.sync()
            await client.next(Received, lambda r: getattr(r.message, "request_id", None) == rid)
            await observer.until(lambda w: w.presence == 2)
            assert observer.ws.closed is False
        finally:
            await client.close()
            await observer.close()
            await proxy.close()
    print(
        f"\nFIGURES half-open: server heartbeat={SERVER_HEARTBEAT}s dropped the peer after "
        f"{server_noticed:.2f}s (bound {2 * SERVER_HEARTBEAT:.1f}s); client heartbeat="
        f"{CLIENT_HEARTBEAT}s noticed after {client_noticed:.2f}s (bound "
        f"{1.5 * CLIENT_HEARTBEAT:.1f}s); {attempts} failed attempts while cut; reconnected "
        f"{reconnected:.2f}s after the heal; proxy connections={proxy.connections}"
    )
    allowance = lag.allowance(stalls=STALLS)
    assert server_noticed <= 2 * SERVER_HEARTBEAT + presence_delay + allowance, lag.worst
    assert client_noticed <= 1.5 * CLIENT_HEARTBEAT + allowance, lag.worst


async def _failed_attempts(client: EventLog, wanted: int) -> int:
    """Wait for ``wanted`` failed (retryable) connection attempts; return the count."""
    for _ in range(wanted):
        _, failed = await client.next(Disconnected)
        assert not failed.fatal
    return wanted
