"""A real client sees welcome, then state, then a whole run."""

from __future__ import annotations

from calc_server.runner import RunningServer
from protocol import Phase, Start, State, Welcome
from tests.wsclient import RawClient


async def test_welcome_then_state_then_full_run(server: RunningServer) -> None:
    client = await RawClient.open(server.url)
    try:
        welcome = await client.expect(Welcome, since=0)
        assert welcome.protocol == 1
        first = await client.expect(State, since=0)
        assert first.state is Phase.IDLE
        sent = await client.send(Start(request_id="r1"))
        assert (await client.ack("r1", since=sent)).accepted
        await client.expect(State, lambda s: s.state is Phase.SUCCESS, since=sent)
        assert [s.state for s in client.states()] == [
            Phase.IDLE,
            Phase.STARTING,
            Phase.IN_PROGRESS,
            Phase.ALMOST_DONE,
            Phase.SUCCESS,
        ]
    finally:
        await client.close()
