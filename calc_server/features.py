"""The one list of capabilities a server announces in ``welcome.features``.

Each capability beyond protocol 1 adds its entry here, decided from the server's settings, so
the welcome and the docs never disagree about what this server offers.
"""

from __future__ import annotations

from calc_server.config import Settings


def features(settings: Settings) -> list[str]:
    """What this server offers beyond protocol 1, given how it was started.

    ``history``: the ``history`` request and ``welcome.last_run`` (always: a server without a
    file keeps its history in memory, a cluster in Redis). ``who``: the ``who`` request
    (calc_server/who.py; always). ``job`` and ``output``: a real command runs (state
    progress/message, ``output`` and ``logs``). ``cluster``: started with ``--redis``.
    """
    offered: list[str] = ["history", "who"]
    if settings.job is not None:
        offered += ["job", "output"]
    if settings.redis_url is not None:
        offered.append("cluster")
    return offered
