"""Percentiles and formatting shared by the figures."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def fmt(value: float, digits: int = 1) -> str:
    """A number for a table, or an em dash when it was not measured."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def ratio(value: float, ours: float) -> str:
    """``value / ours`` as ``1.23x``, or an em dash."""
    if not ours or math.isnan(ours) or math.isnan(value):
        return "—"
    return f"{value / ours:.2f}x"
