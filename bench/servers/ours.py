"""Our server, embedded unchanged, plus the benchmark hook that triggers state changes.

Runs ``calc_server.runner.start_server`` on uvloop as ``calc-server`` does, with INFO logging to
stderr as in production. Bench-only wrappers, set on this process's hub instance and never in
calc_server itself, timestamp every ``broadcast_state`` and time every fan-out loop
(``bench.looptimer``: wall clock, CPU time, involuntary context switches).

Control lines:
``BCAST``           start if idle, else cancel:
                    ``SENT seq t0_ns call_ns fanout_ns cpu_ns switches began_ns``
``START``           start a calculation: the same ``SENT`` reply
``STAGE seconds``   set the stage duration for the next calculation
``TIMES first``     broadcast entry times of every seq >= first: ``TIMES seq:ns ...``
``GC``              garbage collections since the last ``GC``: ``GC count gen2 longest_ns``
``FLOOR``           the floor's own loop in this process: a state frame (seq from 10**9 up)
                    sent with ``socket.send`` to every peer's socket, as
                    ``bench.servers.floor`` does: the same ``SENT`` reply
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import socket
import sys
import time
from pathlib import Path

from bench.control import raise_nofile, reply, serve_control
from bench.looptimer import LoopTimer
from bench.wire import sample_payload, seq_of
from calc_server.config import Settings
from calc_server.frames import text_frame
from calc_server.keys import HUB, SERVICE
from calc_server.loop import loop_factory
from calc_server.runner import start_server

BENCH_CLIENT = "bench"
FLOOR_SEQ = 10**9
"""``FLOOR`` frames carry seqs from here up, never one of the calculation's."""


async def main(
    port: int, stage_seconds: float, heartbeat: float, history: Path | None = None
) -> None:
    """Serve and answer control lines until ``QUIT``."""
    raise_nofile()
    server = await start_server(
        Settings(
            port=port,
            stage_seconds=stage_seconds,
            no_auth=True,
            heartbeat=heartbeat,
            history=history,
        )
    )
    hub, service = server.app[HUB], server.app[SERVICE]
    broadcast_ns: dict[int, int] = {}
    timer = LoopTimer()
    broadcast_state, fan_out = hub.broadcast_state, hub.broadcast

    def timed_broadcast(payload: bytes) -> None:
        broadcast_ns[seq_of(payload)] = time.monotonic_ns()
        broadcast_state(payload)

    def timed_fan_out(frame: bytes) -> None:
        timer.start()
        fan_out(frame)
        timer.stop()

    hub.broadcast_state = timed_broadcast  # type: ignore[method-assign]
    hub.broadcast = timed_fan_out  # type: ignore[method-assign]

    collections: list[tuple[int, int]] = []
    collecting = [0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting[0] = time.perf_counter_ns()
        else:
            collections.append((info["generation"], time.perf_counter_ns() - collecting[0]))

    gc.callbacks.append(on_gc)
    floor_seq = FLOOR_SEQ
    floor_socks: list[socket.socket] = []

    def floor_sockets() -> list[socket.socket]:
        """The peers' sockets as plain socket objects, for the floor's loop (detached at exit)."""
        if len(floor_socks) != len(hub):
            for sock in floor_socks:
                sock.detach()  # the fd stays the transport's
            floor_socks[:] = [
                socket.socket(fileno=peer.transport.get_extra_info("socket").fileno())
                for peer in hub.peers
            ]
        return floor_socks

    async def handle(words: list[str]) -> str:
        match words:
            case ["BCAST" | "START" as what]:
                running = service.calculation.phase.running
                timer.reset()
                t0 = time.monotonic_ns()
                if what == "START" or not running:
                    outcome = service.start(BENCH_CLIENT)
                else:
                    outcome = service.cancel(BENCH_CLIENT, None)
                call = time.monotonic_ns() - t0
                if not outcome.accepted:
                    return f"ERR {outcome.reason}"
                return f"SENT {service.calculation.seq} {t0} {call} {timer.words()}"
            case ["FLOOR"]:
                nonlocal floor_seq
                floor_seq += 1
                socks = floor_sockets()
                t0 = time.monotonic_ns()
                frame = text_frame(sample_payload(floor_seq))
                floor_timer = LoopTimer()
                floor_timer.start()
                for sock in socks:
                    try:  # noqa: SIM105 - the floor server's loop, byte for byte
                        sock.send(frame)
                    except (BlockingIOError, ConnectionError):
                        pass
                floor_timer.stop()
                return f"SENT {floor_seq} {t0} {time.monotonic_ns() - t0} {floor_timer.words()}"
            case ["STAGE", seconds]:
                service.calculation.stage_duration = float(seconds)
                return "OK"
            case ["GC"]:
                gen2 = sum(1 for generation, _ in collections if generation == 2)
                longest = max((ns for _, ns in collections), default=0)
                answer = f"GC {len(collections)} {gen2} {longest}"
                collections.clear()
                return answer
            case ["TIMES", first]:
                since = int(first)
                pairs = " ".join(f"{s}:{t}" for s, t in sorted(broadcast_ns.items()) if s >= since)
                return f"TIMES {pairs}"
        return f"ERR unknown command {words[0]}"

    reply(f"READY {server.port}")
    try:
        await serve_control(handle)
    finally:
        for sock in floor_socks:
            sock.detach()
        await server.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--stage-seconds", type=float, default=3600.0)
    p.add_argument(
        "--heartbeat",
        type=float,
        default=3600.0,
        help="ping interval; long by default so no ping round falls inside a measurement",
    )
    p.add_argument("--history", type=Path, help="run history file (default: memory only)")
    args = p.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main(args.port, args.stage_seconds, args.heartbeat, args.history))
