"""Browser origins as browsers send them, and the Host names a --no-auth server answers to.

``--allow-origin https://Example.com`` or ``https://x:443`` could never match: a browser sends
the host in lower case and leaves out the default port. Origins are normalised at start, and
anything that is not an origin is refused there.

Without a token, a page on any site could reach the server through DNS rebinding (its own
name, resolved to 127.0.0.1): then only loopback names are accepted in ``Host``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from calc_local.loopback import is_loopback

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(text: str) -> str:
    """``scheme://host[:port]`` exactly as a browser sends it; ``ValueError`` if not an origin."""
    hint = "give scheme://host[:port] with nothing after it, e.g. https://example.com"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"--allow-origin {text!r}: not an origin; {hint}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"--allow-origin {text!r}: the scheme must be http or https; {hint}")
    if (
        not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"--allow-origin {text!r}: not an origin; {hint}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def host_is_loopback(request: web.BaseRequest) -> bool:
    """True when the request's ``Host`` names this machine (or is absent, as in HTTP/1.0)."""
    host = request.host
    if not host:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if host.startswith("[") and "]" in host:
        name = host[1 : host.index("]")]
    return is_loopback(name)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def loopback_host_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For ``--no-auth``: refuse (403) any request whose ``Host`` is not a loopback name."""
    if not host_is_loopback(request):
        raise web.HTTPForbidden(text="this server answers to localhost only\n")
    return await handler(request)
