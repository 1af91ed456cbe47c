"""A job flooding output vs a quiet job: state broadcast latency at N clients, CPU, memory.

``python -m bench.job_flood [--clients N] [--broadcasts B] [--rounds R]`` (also run by
``python -m bench``).

Our server runs a real job (``--job``) twice: ``yes`` (a flood: 2,000 lines a second are kept
and batched to every client, 10 times a second or, with many clients, within the output budget
of ``calc_server.output_feed``; the rest counted) and a quiet job (one line a second). In each
run N load-generator clients connect, the job starts, and B state changes are made one at a
time as a job report would make them (through the run's own sink), each timed as
``bench/fanout.py`` does: ``t0`` before the change, then the last client's receipt on the same
clock. Reported: the last-client latency p50/p99 of both runs and their p99 ratio (the target is
at most 1.2), the server's and the load generator's CPU use while the job runs, and the
server's RSS once the run has ended.

The same module is the server process: ``python -m bench.job_flood serve flood|quiet``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.control import raise_nofile, reply, serve_control
from bench.proc import CLIENT_CORE, SERVER_CORE, Proc, cpu_seconds, rss_kib
from bench.stats import percentile
from bench.wire import seq_of

JOBS = {
    "quiet": ("sh", "-c", "while :; do echo tick; sleep 1; done"),
    "flood": ("yes", "flood"),
}
"""The two jobs compared; both run until canceled."""

WARM_SECONDS = 1.0
"""After the start, before measuring: the flood reaches its steady state."""
PAUSE_SECONDS = 0.15
"""Between state changes: longer than the report pacing (0.1 s), so each goes out at once."""
WAIT_SECONDS = 10.0
"""How long one change may take to reach every client before it counts as incomplete."""
TARGET_RATIO = 1.2
"""The promise: the flood's p99 at most this many times the quiet job's."""


# --- the server process -------------------------------------------------------------------


async def serve(kind: str) -> None:
    """Our server with the job ``kind``, answering control lines until ``QUIT``."""
    from calc_server.config import Settings
    from calc_server.jobs import Report
    from calc_server.keys import HUB, SERVICE
    from calc_server.runner import start_server

    raise_nofile()
    server = await start_server(
        Settings(port=0, no_auth=True, heartbeat=300.0, job=JOBS[kind], job_grace=1.0)
    )
    hub, service = server.app[HUB], server.app[SERVICE]
    sent_ns: dict[int, int] = {}
    broadcast_state = hub.broadcast_state

    def timed_broadcast(payload: bytes) -> None:
        sent_ns[seq_of(payload)] = time.monotonic_ns()
        broadcast_state(payload)

    hub.broadcast_state = timed_broadcast  # type: ignore[method-assign]
    reports = 0

    async def handle(words: list[str]) -> str:
        nonlocal reports
        calculation = service.calculation
        match words:
            case ["START"]:
                if not service.start("bench").accepted:
                    return "ERR not started"
                return f"STARTED {calculation.calculation_id}"
            case ["BCAST"]:
                assert calculation.calculation_id is not None
                sink = service._sink(calculation.calculation_id)  # as a report line would
                before = calculation.seq
                reports += 1
                t0 = time.monotonic_ns()
                sink(Report(message=f"bench {reports}"))
                t1 = time.monotonic_ns()
                if calculation.seq == before:
                    return "ERR the report was paced, not published"
                return f"SENT {calculation.seq} {t0} {t1}"
            case ["STOP"]:
                service.cancel("bench", None)
                await service.job.wait()
                return f"STOPPED {calculation.phase.value}"
        return f"ERR unknown command {words[0]}"

    reply(f"READY {server.port}")
    try:
        await serve_control(handle)
    finally:
        await server.stop()


# --- the orchestrator ---------------------------------------------------------------------


@dataclass(slots=True)
class JobRun:
    """One job's figures at ``clients`` clients."""

    kind: str
    clients: int
    last_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    send_ms: list[float] = field(default_factory=list)
    """The server's own part: from the change until its fan-out loop returned."""
    incomplete: int = 0
    cpu_percent: float = 0.0
    """Server CPU (of one core) while the job ran and the changes were made."""
    loadgen_cpu_percent: float = 0.0
    """The load generator's CPU (of one core) meanwhile: reading output costs the clients too."""
    rss_kib: int = 0
    """Server RSS once the run had ended."""
    connected_kib: int = 0
    """Server RSS with the clients connected, before the run."""
    output_batches: int = 0
    output_skipped: int = 0

    def last(self, q: float) -> float:
        """Percentile ``q`` of the last-client latency, ms."""
        return percentile(self.last_ms, q)


def _metrics(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {n: int(v) for n, v in (line.split() for line in text.splitlines() if line[:1] != "#")}


def run_job(kind: str, clients: int, broadcasts: int, log_dir: Path) -> JobRun:
    """Our server running job ``kind`` with ``clients`` clients: ``broadcasts`` timed changes."""
    python = sys.executable
    result = JobRun(kind, clients)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            Proc(
                f"job-{kind}",
                SERVER_CORE,
                [python, "-m", "bench.job_flood", "serve", kind],
                log_dir,
            )
        )
        gen = stack.enter_context(
            Proc(f"loadgen-job-{kind}", CLIENT_CORE, [python, "-m", "bench.loadgen"], log_dir)
        )
        port = int(server.read_line(30).split()[1])
        gen.read_line(30)
        url = f"ws://127.0.0.1:{port}/ws"
        _, _, failed, _ = gen.ask(f"CONNECT {kind} {url} {clients} 100 ws", timeout=300)
        if int(failed):
            raise RuntimeError(f"{failed} of {clients} clients failed to connect")
        time.sleep(1.0)
        result.connected_kib = rss_kib(server.pid)
        server.ask("START")
        time.sleep(WARM_SECONDS)
        cpu0, gen_cpu0, t0 = cpu_seconds(server.pid), cpu_seconds(gen.pid), time.monotonic()
        for _ in range(broadcasts):
            _, seq, sent, returned = server.ask("BCAST")
            _, _, count, first, last = gen.ask(
                f"WAIT {kind} {seq} {clients} {WAIT_SECONDS}", timeout=WAIT_SECONDS + 30
            )
            if int(count) < clients:
                result.incomplete += 1
            result.last_ms.append((int(last) - int(sent)) / 1e6)
            result.first_ms.append((int(first) - int(sent)) / 1e6)
            result.send_ms.append((int(returned) - int(sent)) / 1e6)
            time.sleep(PAUSE_SECONDS)
        elapsed = time.monotonic() - t0
        result.cpu_percent = 100 * (cpu_seconds(server.pid) - cpu0) / elapsed
        result.loadgen_cpu_percent = 100 * (cpu_seconds(gen.pid) - gen_cpu0) / elapsed
        server.ask("STOP", timeout=30)
        time.sleep(1.0)
        result.rss_kib = rss_kib(server.pid)
        metrics = _metrics(port)
        result.output_batches = metrics["calc_output_batches_total"]
        result.output_skipped = metrics["calc_output_skipped_total"]
        gen.ask("CLOSE", timeout=120)
    return result


def measure_job_flood(
    log_dir: Path, clients: int = 1000, broadcasts: int = 100, rounds: int = 1
) -> str:
    """Both jobs at ``clients`` clients, ``rounds`` times in turn; the figures as text lines.

    Each round runs both jobs (the quiet one first in odd rounds, the flood first in even
    ones), so the machine's other work falls on both alike; the verdict is the median of the
    rounds' p99 ratios.
    """
    runs: dict[str, list[JobRun]] = {"quiet": [], "flood": []}
    ratios: list[float] = []
    for number in range(rounds):
        order = ("quiet", "flood") if number % 2 == 0 else ("flood", "quiet")
        for kind in order:
            runs[kind].append(run_job(kind, clients, broadcasts, log_dir))
        quiet, flood = runs["quiet"][-1], runs["flood"][-1]
        ratios.append(flood.last(99) / quiet.last(99) if quiet.last(99) else float("inf"))
    lines = [
        f"job flood vs quiet job, N={clients:,}, {broadcasts} state changes each,"
        f" {rounds} round(s):"
    ]
    for kind in ("quiet", "flood"):
        for number, run in enumerate(runs[kind], 1):
            lines.append(
                f"  {run.kind:<5} #{number} last-client p50 {run.last(50):7.2f} ms"
                f"  p99 {run.last(99):7.2f} ms  first p50 {percentile(run.first_ms, 50):6.2f} ms"
                f"  send p50 {percentile(run.send_ms, 50):6.2f} ms  incomplete {run.incomplete}"
                f"  server CPU {run.cpu_percent:5.1f}% (clients {run.loadgen_cpu_percent:5.1f}%)"
                f"  RSS {run.connected_kib / 1024:6.1f} ->"
                f" {run.rss_kib / 1024:6.1f} MiB after the run  output batches"
                f" {run.output_batches:,} (skipped for a peer {run.output_skipped:,})"
            )
    ratio = statistics.median(ratios)
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER the target"
    each = ", ".join(f"{r:.2f}" for r in ratios)
    lines.append(
        f"  p99 ratio flood/quiet {ratio:.2f}x, median of rounds ({each})"
        f" (target <= {TARGET_RATIO}x: {verdict})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``serve KIND`` runs the server process; otherwise measure and print the figures."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        from calc_server.loop import loop_factory

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(serve(args[1]))
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.job_flood", description=__doc__)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--broadcasts", type=int, default=100)
    p.add_argument("--rounds", type=int, default=1)
    ns = p.parse_args(args)
    raise_nofile()
    with tempfile.TemporaryDirectory(prefix="calc-bench-job-") as logs:
        try:
            print(measure_job_flood(Path(logs), ns.clients, ns.broadcasts, ns.rounds))
        except Exception:
            for log in sorted(Path(logs).glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {log.name} (last lines)\n" + "\n".join(tail), file=sys.stderr)
            raise
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
