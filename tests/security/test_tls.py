"""wss:// and https:// with a certificate made in the test by a throwaway CA."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import trustme

from calc_client.link import ConnectFailed, connect
from calc_client.security import client_ssl
from calc_server.runner import RunningServer
from tests.client.calc_process import run_calc
from tests.conftest import ServerFactory
from tests.processes import clean_env

TOKEN = "tls-test-token"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_server(
    server_factory: ServerFactory, ca: trustme.CA, tmp_path: Path
) -> RunningServer:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    return await server_factory(no_auth=False, token=TOKEN, tls_cert=str(chain), tls_key=str(key))


@pytest.fixture
def cafile(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def test_wss_url_and_trusted_ca_connects(tls_server: RunningServer, cafile: str) -> None:
    assert tls_server.url.startswith("wss://")
    async with await connect(tls_server.url, token=TOKEN, ssl=client_ssl(cafile)) as link:
        assert link.welcome.protocol == 1


async def test_untrusted_certificate_is_refused_and_not_retried(
    tls_server: RunningServer,
) -> None:
    with pytest.raises(ConnectFailed) as refused:
        await connect(tls_server.url, token=TOKEN, ssl=client_ssl())
    assert refused.value.reason.startswith("TLS certificate not trusted")
    assert not refused.value.retryable


async def test_insecure_connects_without_verifying(tls_server: RunningServer) -> None:
    async with await connect(tls_server.url, token=TOKEN, ssl=client_ssl(insecure=True)) as link:
        assert link.welcome.clients == 1


async def test_https_healthz(tls_server: RunningServer, cafile: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(tls_server.http_url + "/healthz", ssl=client_ssl(cafile)) as response,
    ):
        assert tls_server.http_url.startswith("https://")
        assert (await response.json())["status"] == "ok"


async def test_plain_ws_to_a_tls_port_fails_cleanly(tls_server: RunningServer) -> None:
    with pytest.raises(ConnectFailed):
        await connect(tls_server.url.replace("wss://", "ws://"), token=TOKEN, timeout=2)


async def test_calc_cli_over_wss(tls_server: RunningServer, cafile: str) -> None:
    common = ["--url", tls_server.url, "--token", TOKEN]
    trusted = await run_calc("status", *common, "--cafile", cafile)
    assert trusted.code == 0, trusted.stderr
    assert "IDLE" in trusted.stdout
    untrusted = await run_calc("status", *common)
    assert untrusted.code == 2
    assert "certificate" in untrusted.stderr
    insecure = await run_calc("status", *common, "--insecure", env=clean_env())
    assert insecure.code == 0
    assert "NOT verified" in insecure.stderr
