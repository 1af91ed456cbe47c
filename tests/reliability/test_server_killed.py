"""Case 1: the server process is SIGKILLed mid-calculation and another one takes its port.

Connected at the time: the real calc-tui app (built by its own factory, driven by Pilot) and a
real ``calc watch --json`` process. Both show the loss at once: the kill resets the sockets,
so neither waits for a heartbeat to notice (the client's comes every ten seconds). The app
reconnects by itself
once the new server listens and says that the running calculation was interrupted by the
restart. ``calc watch`` does not reconnect: its documented promise is to end with exit code 2
and "connection lost" on stderr, which it does at once; a new ``calc watch`` then follows the
new server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

from calc_client.link import CLIENT_HEARTBEAT
from calc_tui.status import ConnectionStatus
from protocol import Phase
from tests.client.calc_process import CalcProcess
from tests.looplag import LoopLag
from tests.processes import ServerProcess, clean_env
from tests.tui.helpers import Toasts, is_connected, live_app, shown_states, wait_for

AT_ONCE = 1.0
"""Seconds within which the app in this process shows the loss, plus what the loop lagged."""
STALLS = 4
"""Late callbacks between the reset and the screen: the read, the link's end, the message
to the app, its handler."""


def calc_env() -> dict[str, str]:
    """A clean environment that keeps the tests' private token directory."""
    return clean_env(CALC_TOKEN_DIR=os.environ["CALC_TOKEN_DIR"])


async def test_sigkill_mid_calculation_then_restart_on_the_same_port() -> None:
    old = await ServerProcess.start("--stage-seconds", "5")
    new: ServerProcess | None = None
    watch = await CalcProcess.spawn("watch", "--json", "--url", old.url, env=calc_env())
    app = live_app(old.url, name="reliability-tui")
    toasts = Toasts()
    loop = asyncio.get_running_loop()
    try:
        assert json.loads(await watch.line())["state"] == "IDLE"
        async with (
            app.run_test(size=(80, 24), message_hook=toasts) as pilot,
            LoopLag() as lag,
        ):
            await wait_for(pilot, lambda: is_connected(app), what="connected")
            assert app.calc is not None
            old_epoch = app.calc.epoch
            shown = shown_states(app)
            await pilot.press("s")
            await wait_for(pilot, lambda: any(s.state.running for s in shown), what="running")
            running = json.loads(await watch.line())
            assert running["state"] == Phase.STARTING.value
            assert running["started_by"].startswith("reliability-tui")

            old.signal(signal.SIGKILL)
            killed = loop.time()
            finished = asyncio.create_task(watch.finish())
            await wait_for(pilot, lambda: not app.link_status.connected, what="loss shown")
            tui_noticed = loop.time() - killed
            assert app.link_status.link is ConnectionStatus.RECONNECTING
            gone = await finished
            watch_noticed = loop.time() - killed
            assert gone.code == 2, gone
            assert "connection lost" in gone.stderr
            assert "Traceback" not in gone.stderr
            assert await old.wait() == -signal.SIGKILL

            new = await ServerProcess.start("--stage-seconds", "5", port=old.port)
            listening = loop.time()
            await wait_for(
                pilot,
                lambda: is_connected(app) and app.calc is not None and app.calc.epoch != old_epoch,
                what="reconnected to the new server",
            )
            reconnected = loop.time() - listening
            assert app.calc is not None
            assert (app.calc.state, app.calc.seq) == (Phase.IDLE, 0)
            assert toasts.titled("Server restarted") == [
                "The server restarted. The calculation that was running was interrupted."
            ]

        # calc watch does not reconnect (exit 2 is its promise); a new one follows the new server
        again = await CalcProcess.spawn("watch", "--json", "--url", new.url, env=calc_env())
        try:
            first = json.loads(await again.line())
            assert (first["state"], first["seq"]) == ("IDLE", 0)
            assert first["epoch"] != old_epoch
        finally:
            await again.kill()
    finally:
        await watch.kill()
        await old.stop()
        if new is not None:
            await new.stop()
    print(
        f"\nFIGURES server killed: TUI showed the loss after {tui_noticed:.2f}s, calc watch "
        f"exited 2 after {watch_noticed:.2f}s; TUI reconnected {reconnected:.2f}s after the "
        "new server listened and said the calculation was interrupted"
    )
    assert tui_noticed <= AT_ONCE + lag.allowance(stalls=STALLS), lag.worst
    # a process of its own, whose exit includes the interpreter's: on a busy machine that
    # alone takes a second or more, so the bound is what a heartbeat would have needed
    assert watch_noticed < CLIENT_HEARTBEAT
