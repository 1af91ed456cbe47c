"""The capabilities this server announces in ``welcome.features``: the one list of them."""

from __future__ import annotations

from calc_server.config import Settings


def features(settings: Settings) -> list[str]:
    """Feature names for ``settings``, each a promise the server keeps on every connection.

    ``history``: the ``history`` request and ``welcome.last_run`` (always: a server without a
    file keeps its history in memory).
    """
    del settings  # every feature so far is on whatever the settings say
    return ["history"]
