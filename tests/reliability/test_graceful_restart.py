"""Case 2: SIGTERM mid-calculation; clients see CANCELED "server shutdown", then 1001, then
resync from the new server on the same port by themselves.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import WSCloseCode

from calc_client.reconnect import Backoff, Connected, Disconnected, Received, Reconnector
from protocol import Phase, Start, State
from tests.processes import ServerProcess
from tests.reliability.events import EventLog

CLIENTS = 3


async def test_sigterm_ends_calculation_closes_1001_and_clients_resync_from_new_server() -> None:
    old = await ServerProcess.start("--stage-seconds", "5")
    new: ServerProcess | None = None
    clients = [
        EventLog(Reconnector(old.url, name=f"client{i}", backoff=Backoff(base=0.05, cap=0.2)))
        for i in range(CLIENTS)
    ]
    loop = asyncio.get_running_loop()
    try:
        for client in clients:
            await client.next(Connected)
            await client.next(Received, lambda r: isinstance(r.message, State))
        link = clients[0].reconnector.link
        assert link is not None
        await link.send(Start(request_id="go"))
        for client in clients:
            await client.next(
                Received, lambda r: isinstance(r.message, State) and r.message.state.running
            )
        old_epoch = link.welcome.epoch

        old.signal(signal.SIGTERM)
        signaled = loop.time()
        for client in clients:
            # ``next`` skips what does not match, so a close seen before the final state
            # would make this wait time out: the order is part of the check
            _, final = await client.next(
                Received, lambda r: isinstance(r.message, State) and r.message.state.terminal
            )
            assert isinstance(final.message, State)
            assert (final.message.state, final.message.ended_by) == (
                Phase.CANCELED,
                "server shutdown",
            )
            _, lost = await client.next(Disconnected)
            assert lost.reason == f"server shutting down (code {WSCloseCode.GOING_AWAY})"
            assert not lost.fatal
        assert await old.wait() == 0  # how soon is test_shutdown's to check
        stopped = loop.time() - signaled

        new = await ServerProcess.start("--stage-seconds", "5", port=old.port)
        restarted = loop.time()
        for client in clients:
            _, opened = await client.next(Connected)
            assert opened.welcome.epoch != old_epoch
            _, fresh = await client.next(Received, lambda r: isinstance(r.message, State))
            assert isinstance(fresh.message, State)
            assert (fresh.message.epoch, fresh.message.seq, fresh.message.state) == (
                opened.welcome.epoch,
                0,
                Phase.IDLE,
            )
        resynced = loop.time() - restarted
    finally:
        for client in clients:
            await client.close()
        await old.stop()
        if new is not None:
            await new.stop()
    assert "Traceback" not in "".join(old.log)
    print(
        f"\nFIGURES graceful restart: clients={CLIENTS} each got CANCELED (server shutdown) "
        f"then 1001; old server exited 0 after {stopped:.2f}s; all resynced {resynced:.2f}s "
        "after the new server listened; lost=0"
    )
