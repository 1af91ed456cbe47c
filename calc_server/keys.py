"""Typed application keys: the only way the server's parts find each other."""

from __future__ import annotations

from aiohttp import web

from calc_server.auth_limits import GuessLimiter, RefusalLog
from calc_server.config import Settings
from calc_server.hub import Hub
from calc_server.pending import PendingHandshakes
from calc_server.service import CalculationService

SETTINGS = web.AppKey("settings", Settings)
HUB = web.AppKey("hub", Hub)
SERVICE = web.AppKey("service", CalculationService)
EPOCH = web.AppKey("epoch", str)
GUESSES = web.AppKey("guesses", GuessLimiter)
REFUSALS = web.AppKey("refusals", RefusalLog)
PENDING = web.AppKey("pending", PendingHandshakes)
