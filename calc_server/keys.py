"""Typed application keys: the only way the server's parts find each other."""

from __future__ import annotations

from aiohttp import web

from calc_server.auth_limits import GuessLimiter, RefusalLog
from calc_server.config import Settings
from calc_server.hub import Hub
from calc_server.jobs import Job
from calc_server.metrics import Metrics
from calc_server.pending import PendingHandshakes
from calc_server.run_history import HistoryView, RunHistory
from calc_server.service_api import Service

SETTINGS = web.AppKey("settings", Settings)
HUB = web.AppKey("hub", Hub)
METRICS = web.AppKey("metrics", Metrics)
SERVICE = web.AppKey("service", Service)
EPOCH = web.AppKey("epoch", str)
HISTORY = web.AppKey("history", HistoryView)
RUN_HISTORY = web.AppKey("run_history", RunHistory)
"""A single server's history, which its service records into (HISTORY is the same)."""
GUESSES = web.AppKey("guesses", GuessLimiter)
REFUSALS = web.AppKey("refusals", RefusalLog)
PENDING = web.AppKey("pending", PendingHandshakes)
JOB = web.AppKey("job", Job)
