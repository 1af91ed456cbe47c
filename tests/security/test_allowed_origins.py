"""--allow-origin is normalised the way browsers send Origin, or refused at start."""

from __future__ import annotations

import aiohttp
import pytest

from calc_server.config import Settings, parse_settings
from tests.conftest import ServerFactory

TOKEN = "origin-test-token"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://Example.com", "https://example.com"),
        ("https://x:443", "https://x"),
        ("http://x:80", "http://x"),
        ("HTTPS://App.Example:8443/", "https://app.example:8443"),
    ],
)
def test_origins_are_stored_as_browsers_send_them(given: str, stored: str) -> None:
    settings = parse_settings(["--token", TOKEN, "--allow-origin", given], env={})
    assert settings.allowed_origins == frozenset({stored})


@pytest.mark.parametrize("given", ["https://x/app", "ftp://x", "null", "https://u@x", "x:1"])
def test_what_is_not_an_origin_stops_the_server(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_settings(["--token", TOKEN, "--allow-origin", given], env={})
    assert exited.value.code == 64
    assert capsys.readouterr().err.count("\n") == 1


def test_settings_that_could_never_match_are_refused() -> None:
    with pytest.raises(ValueError, match="never match"):
        Settings(token=TOKEN, allowed_origins=frozenset({"https://Example.com"})).check()


async def test_a_browser_from_the_normalised_origin_connects(server_factory: ServerFactory) -> None:
    [origin] = parse_settings(["--allow-origin", "https://Example.com:443"], env={}).allowed_origins
    server = await server_factory(no_auth=False, token=TOKEN, allowed_origins=frozenset({origin}))
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "https://example.com"}
    async with aiohttp.ClientSession() as http, http.ws_connect(server.url, headers=headers) as ws:
        assert not ws.closed
