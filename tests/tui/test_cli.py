"""The calc-tui command line: the URL, --serve, and an embedded server in the same loop."""

from __future__ import annotations

import asyncio
import socket

import pytest

from calc_tui.__main__ import main, parser
from calc_tui.app import CalcApp, make_app
from calc_tui.serve import serve_and_run
from tests.tui.helpers import is_connected


def test_url_defaults_to_calc_url_then_the_standard_one() -> None:
    assert parser({}).parse_args([]).url == "ws://127.0.0.1:8765/ws"
    assert parser({"CALC_URL": "ws://h:1/ws"}).parse_args([]).url == "ws://h:1/ws"
    assert parser({"CALC_URL": "ws://h:1/ws"}).parse_args(["ws://x/ws"]).url == "ws://x/ws"
    args = parser({}).parse_args(["--serve", "--port", "9000", "--stage-seconds", "0.5"])
    assert (args.serve, args.port, args.stage_seconds) == (True, 9000, 0.5)


def test_serve_options_need_serve(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--port", "9000"])
    assert exc.value.code == 2
    assert "--port and --stage-seconds need --serve" in capsys.readouterr().err


async def test_serve_runs_the_app_against_an_embedded_server_in_the_same_loop() -> None:
    apps: list[CalcApp] = []
    connected = asyncio.Event()

    def make(url: str, token: str) -> CalcApp:
        app = make_app(url, token=token)
        app.watch(app, "calc", lambda _: is_connected(app) and connected.set(), init=False)
        apps.append(app)
        return app

    async def quit_once_connected() -> None:
        await connected.wait()
        apps[0].exit()

    watcher = asyncio.create_task(quit_once_connected())
    code = await asyncio.wait_for(
        serve_and_run(make, port=0, stage_seconds=0.2, headless=True), timeout=60
    )
    await watcher
    assert code == 0
    assert apps[0].url.startswith("ws://127.0.0.1:")
    assert apps[0].calc is not None


async def test_serve_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = await serve_and_run(lambda url, token: make_app(url), port=port, headless=True)
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}: the port is in use" in err
