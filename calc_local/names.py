"""What a client may call itself: the rule of the protocol's ``ClientName``, kept here too.

calc_local imports nothing of ours, so the rule is restated: 1 to 64 characters, no control
characters (C0, DEL, C1) and no bidi overrides or isolates, because names end up in logs and
on other users' terminals. ``tests/protocol`` checks that what passes here passes the wire.
"""

from __future__ import annotations

import re

NAME_MAX = 64
"""The longest client name the protocol accepts."""

_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a client name, or None when it can."""
    if not text:
        return "must not be empty"
    if len(text) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters, got {len(text)}"
    if _FORBIDDEN.search(text):
        return "must not contain control or bidi characters"
    return None


def fit_name(text: str, fallback: str = "calc") -> str:
    """``text`` made into a valid client name: forbidden characters dropped, cut to 64."""
    cleaned = _FORBIDDEN.sub("", text)[:NAME_MAX]
    return cleaned or fallback
