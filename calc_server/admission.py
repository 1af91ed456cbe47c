"""The checks a WebSocket handshake passes before the upgrade, as the handler runs them.

Token (paced per source), method, Origin and capacity; a refusal closes its connection (no
keep-alive for a second guess), is counted in the metrics and the summary log, and is raised.
"""

from __future__ import annotations

from aiohttp import web

from calc_server.auth_limits import token_check
from calc_server.gate import refuse_handshake
from calc_server.keys import GUESSES, HUB, METRICS, REFUSALS, SETTINGS


async def admit(request: web.Request) -> None:
    """Return if the handshake may be upgraded; raise the HTTP refusal otherwise."""
    app = request.app
    settings, hub = app[SETTINGS], app[HUB]
    refusal: web.HTTPException | None
    try:
        authorized = await token_check(request, settings.token, app[GUESSES])
    except web.HTTPTooManyRequests as too_many:
        refusal = too_many
    else:
        refusal = refuse_handshake(
            request,
            authorized=authorized,
            allowed_origins=settings.allowed_origins,
            connected=len(hub),
            max_connections=settings.max_connections,
        )
    if refusal is None:
        return
    refused(request, refusal)
    app[METRICS].handshakes_refused += 1
    raise refusal


def refused(request: web.Request, refusal: web.HTTPException) -> None:
    """Close the connection after this answer and count it into the summary log."""
    refusal.force_close()
    request.app[REFUSALS].record(refusal.status, request.remote)
