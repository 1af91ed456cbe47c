"""What a client may call itself: the rule of the protocol's ``ClientName``, kept here too.

calc_local imports nothing of ours, so the rule is restated: 1 to 64 characters, no control
characters (C0, DEL, C1), no format characters (Unicode Cf: zero-width, joiners, bidi
controls, tags), no line or paragraph separators and no blank fillers, because names end up in
logs and on other users' terminals, where a padded or reordered name could pass for another
client's. ``tests/client/test_names.py`` checks that what passes here passes the wire.
"""

from __future__ import annotations

import re

NAME_MAX = 64
"""The longest client name the protocol accepts."""

_INVISIBLE = (
    # Unicode category Cf (format: zero-width, joiners, bidi controls, tags), Zl and Zp
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    # blank letters that render as nothing: Hangul fillers, combining grapheme joiner
    "\u034f\u115f\u1160\u3164\uffa0"
)
_FORBIDDEN = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a client name, or None when it can."""
    if not text:
        return "must not be empty"
    if len(text) > NAME_MAX:
        return f"must be at most {NAME_MAX} characters, got {len(text)}"
    if _FORBIDDEN.search(text):
        return "must not contain control, format (zero-width, bidi) or invisible characters"
    return None


def fit_name(text: str, fallback: str = "calc") -> str:
    """``text`` made into a valid client name: forbidden characters dropped, cut to 64."""
    cleaned = _FORBIDDEN.sub("", text)[:NAME_MAX]
    return cleaned or fallback
