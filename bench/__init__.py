"""Benchmark suite of the calc server: ``python -m bench`` (or ``make bench``).

Never collected by pytest. Every process it starts is pinned with ``taskset`` and killed on exit.
"""
