"""What this server announces in ``welcome.features``: one list, built from its settings."""

from __future__ import annotations

from calc_server.config import Settings


def features(settings: Settings) -> list[str]:
    """The capabilities beyond protocol 1 that a server with ``settings`` offers."""
    offered: list[str] = []
    if settings.job is not None:
        offered += ["job", "output"]  # a real command runs: state progress/message, output, logs
    return offered
