"""The servers compared: ours, the raw-socket floor, python-websockets and naive aiohttp.

Each runs as ``python -m bench.servers.NAME --port 0``, prints ``READY <port>`` and then answers
one control line at a time on stdin/stdout (see ``bench.control``).
"""
