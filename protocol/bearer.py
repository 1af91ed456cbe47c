"""What an access token may look like: RFC 6750 ``b64token``, so it fits an HTTP header.

Checked at both ends: the server refuses to start with a token no client could send, and a
client refuses to send one that would break (or inject into) its handshake. Reasons never
quote the token: it is a credential.
"""

from __future__ import annotations

import re

MAX_TOKEN_LENGTH = 1024
"""Longest token accepted; far beyond any generated one, far below header size limits."""

_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be used as a bearer token, or None when it can."""
    if not token:
        return "the token is empty"
    if len(token) > MAX_TOKEN_LENGTH:
        return f"the token is longer than {MAX_TOKEN_LENGTH} characters"
    if _B64TOKEN.fullmatch(token):
        return None
    if any(ch.isspace() for ch in token):
        what = "white space"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in token):
        what = "a control character"
    else:
        what = "a character that is not allowed"
    return (
        f"the token contains {what}; use only A-Z a-z 0-9 - . _ ~ + / "
        "(and = at the end), as a generated token does"
    )
