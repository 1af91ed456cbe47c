"""A server's progress that moves by a denormal step must not crash the bar's ETA estimate."""

from __future__ import annotations

import asyncio

import msgspec

from calc_client.reconnect import Connected
from calc_tui.messages import ConnectionReported
from protocol import Phase
from tests.tui.helpers import fed_app, received, state, welcome


async def test_progress_moving_by_a_denormal_step_keeps_the_app_running() -> None:
    app = fed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(ConnectionReported(Connected(welcome())))
        job = state(Phase.IN_PROGRESS, 1, stage=1, stage_duration=0.0)
        app.post_message(received(msgspec.structs.replace(job, progress=5e-324)))
        await pilot.pause()
        # Textual estimates a speed only from samples at least a second apart: make them so
        await asyncio.sleep(1.2)
        later = msgspec.structs.replace(job, seq=2, progress=1e-323)
        app.post_message(received(later))
        await pilot.pause()
        await asyncio.sleep(0.3)  # a few refreshes of the bar, which asks for the estimate
        await pilot.pause()
        assert app.is_running
        assert app.return_code is None
