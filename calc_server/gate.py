"""Checks a handshake must pass before the WebSocket upgrade: token, Origin, capacity.

Each refusal is a plain HTTP answer (401, 403, 503) sent before any WebSocket frame, so
clients can tell a wrong token from a full server without guessing.
"""

from __future__ import annotations

import hmac

from aiohttp import web


def bearer_token(request: web.BaseRequest) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison of the presented token with the expected one."""
    if presented is None:
        return False
    # header bytes that are not UTF-8 arrive surrogate-escaped; they must fail, not raise
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def authorized(request: web.BaseRequest, token: str | None) -> bool:
    """True when no token is required or the request carries the right one."""
    return token is None or token_matches(bearer_token(request), token)


def refuse_handshake(
    request: web.BaseRequest,
    *,
    authorized: bool,
    allowed_origins: frozenset[str],
    connected: int,
    max_connections: int,
) -> web.HTTPException | None:
    """The HTTP error to answer a WebSocket handshake with, or None to accept it.

    Refusals are not logged here: the caller counts them into one summary line per interval.
    """
    if request.method != "GET":  # aiohttp routes HEAD to GET handlers; only GET may upgrade
        return web.HTTPMethodNotAllowed(request.method, ["GET"])
    if not authorized:
        return web.HTTPUnauthorized(
            text="authentication failed: send Authorization: Bearer <token>\n",
            headers={"WWW-Authenticate": 'Bearer realm="calc"'},
        )
    origin = request.headers.get("Origin")
    if origin is not None and origin not in allowed_origins:
        return web.HTTPForbidden(text="forbidden origin\n")
    if connected >= max_connections:
        return web.HTTPServiceUnavailable(text="server is full\n", headers={"Retry-After": "5"})
    return None
