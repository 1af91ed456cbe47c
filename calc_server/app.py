"""The aiohttp application: built by ``make_app``, which the CLI, the TUI and the tests call."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shlex
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from calc_server.admission import refused
from calc_server.auth_limits import GuessLimiter, RefusalLog, token_check
from calc_server.calculation import Calculation
from calc_server.cluster.node import ClusterService
from calc_server.config import Settings
from calc_server.connection import websocket_handler
from calc_server.hub import Hub
from calc_server.jobs import CommandJob, Job, TimerJob
from calc_server.keys import (
    EPOCH,
    GUESSES,
    HISTORY,
    HUB,
    JOB,
    METRICS,
    REFUSALS,
    RUN_HISTORY,
    SERVICE,
    SETTINGS,
)
from calc_server.metrics import Metrics
from calc_server.metrics import render as render_metrics
from calc_server.origins import loopback_host_only
from calc_server.run_history import RunHistory
from calc_server.service import CalculationService
from calc_server.version import __version__
from protocol.schema import render as render_schema

log = logging.getLogger("calc_server")


async def healthz(request: web.Request) -> web.Response:
    """``GET /healthz``: liveness; with the token, also a summary of the calculation."""
    app = request.app
    if not await paced_token_check(request):
        return web.json_response({"status": "ok"})
    return web.json_response(
        {
            "status": "ok",
            "version": __version__,
            "epoch": app[SERVICE].snapshot().epoch,
            "clients": len(app[HUB]),
            "state": app[SERVICE].snapshot().state.value,
        }
    )


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics``: counters in Prometheus text format (needs the token, like /ws)."""
    app = request.app
    if not await paced_token_check(request):
        refusal = web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Bearer realm="calc"'})
        refused(request, refusal)
        raise refusal
    hub = app[HUB]
    text = render_metrics(
        app[METRICS],
        clients=len(hub),
        behind=hub.behind,
        seq=app[SERVICE].snapshot().seq,
        runs=app[HISTORY].counts(),
    )
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


async def paced_token_check(request: web.Request) -> bool:
    """The token check of the HTTP endpoints: paced like the handshake's (429 when flooded)."""
    try:
        return await token_check(request, request.app[SETTINGS].token, request.app[GUESSES])
    except web.HTTPTooManyRequests as too_many:
        refused(request, too_many)
        raise


async def schema(request: web.Request) -> web.Response:
    """``GET /schema``: the protocol's JSON Schema."""
    return web.Response(text=_SCHEMA, content_type="application/schema+json")


_SCHEMA = render_schema()


async def _on_shutdown(app: web.Application) -> None:
    """End a running calculation as CANCELED, tell everyone, then close every peer with 1001."""
    hub = app[HUB]
    app[REFUSALS].stop()
    await app[SERVICE].shutdown()  # a job is given its (capped) grace; CANCELED goes out
    hub.stop()
    # peers stay in the hub: each handler removes its own and logs the disconnect
    peers = hub.peers
    closes = [
        peer.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for peer in peers
    ]
    if closes:
        timeout = app[SETTINGS].shutdown_timeout
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*closes, return_exceptions=True)
        except TimeoutError:
            log.warning("some clients did not acknowledge the close within %.1fs", timeout)
        for peer in peers:
            if not peer.transport.is_closing():
                peer.transport.abort()


async def _history(app: web.Application) -> AsyncIterator[None]:
    """Open the run history before the service exists; close it after the shutdown's last run.

    Raises ``HistoryFileRefused`` (so the server does not start) for a file that is not ours.
    """
    settings = app[SETTINGS]
    history = await RunHistory.open(settings.history, settings.history_keep)
    app[HISTORY] = app[RUN_HISTORY] = history
    if settings.history is None:
        log.info("run history in memory only (--history none): it ends with this server")
    else:
        log.info("run history in %s (newest %d runs kept)", settings.history, settings.history_keep)
    yield
    await history.close()


async def _bind_clock(app: web.Application) -> None:
    """Create the service on the running loop, so deadlines use the loop's monotonic clock."""
    loop = asyncio.get_running_loop()
    settings = app[SETTINGS]
    job = app[JOB]
    calculation = Calculation(
        epoch=app[EPOCH], stage_duration=settings.stage_seconds, timed=job.timed
    )
    app[SERVICE] = CalculationService(
        calculation,
        app[HUB],
        loop.time,
        app[METRICS],
        app[RUN_HISTORY],
        job=job,
        grace=settings.job_grace,
        command=None if settings.job is None else shlex.join(settings.job),
    )


async def _cluster_service(app: web.Application) -> AsyncIterator[None]:
    """Cluster mode: join the cluster's shared state (and run history) in Redis for the app's
    lifetime."""
    service = await ClusterService.open(app[SETTINGS], app[HUB], app[METRICS], app[JOB])
    app[SERVICE] = service
    app[HISTORY] = service.history
    log.info("run history in Redis (newest %d runs kept)", app[SETTINGS].history_keep)
    yield
    await service.close()


def make_job(settings: Settings) -> Job:
    """What runs as the calculation: the configured command, else the built-in timer.

    Raises ``JobConfigError`` (one line for the operator) when the command cannot be run.
    """
    if settings.job is None:
        return TimerJob()
    return CommandJob(settings.job, cwd=settings.job_cwd, grace=settings.job_grace)


def make_app(settings: Settings | None = None) -> web.Application:
    """Build the server application with its own epoch, hub and calculation.

    The one place that picks where the calculation's state lives: this process's memory, or
    Redis shared by every node of a cluster (``settings.redis_url``).
    """
    settings = settings or Settings()
    settings.check()
    # without a token, DNS rebinding could let any web page read the server: Host must be local
    app = web.Application(middlewares=[loopback_host_only] if settings.no_auth else [])
    app[SETTINGS] = settings
    app[EPOCH] = secrets.token_hex(8)
    app[JOB] = make_job(settings)
    app[METRICS] = counters = Metrics()
    app[HUB] = Hub(
        send_buffer_limit=settings.send_buffer_limit,
        behind_timeout=settings.behind_timeout,
        metrics=counters,
        presence_delay=settings.presence_delay,
    )
    app[GUESSES] = GuessLimiter()
    app[REFUSALS] = RefusalLog(settings.refusal_log_interval)
    if settings.redis_url is None:
        app.cleanup_ctx.append(_history)
        app.on_startup.append(_bind_clock)
    else:
        app.cleanup_ctx.append(_cluster_service)
    app.on_shutdown.append(_on_shutdown)
    app.router.add_get("/ws", websocket_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/schema", schema)
    app.router.add_get("/metrics", metrics)
    return app
