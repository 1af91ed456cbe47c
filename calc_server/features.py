"""The one list of capabilities a server announces in ``welcome.features``.

Each capability beyond protocol 1 adds its entry here, decided from the server's settings, so
the welcome and the docs never disagree about what this server offers.
"""

from __future__ import annotations

from calc_server.config import Settings


def features(settings: Settings) -> list[str]:
    """The ``welcome.features`` of a server running with ``settings``."""
    offered: list[str] = []
    offered.append("who")  # the ``who`` request (calc_server/who.py); always on
    return offered
