"""Typed application keys: the only way the server's parts find each other."""

from __future__ import annotations

from aiohttp import web

from calc_server.config import Settings
from calc_server.hub import Hub
from calc_server.jobs import Job
from calc_server.metrics import Metrics
from calc_server.service import CalculationService

SETTINGS = web.AppKey("settings", Settings)
HUB = web.AppKey("hub", Hub)
METRICS = web.AppKey("metrics", Metrics)
SERVICE = web.AppKey("service", CalculationService)
EPOCH = web.AppKey("epoch", str)
JOB = web.AppKey("job", Job)
