"""Stage timing: every timed transition against the ideal grid ``t0 + k x stage``.

The calculation has three timed transitions (IN_PROGRESS, ALMOST_DONE, SUCCESS), so 20 stages
are seven calculations started back to back through the hook. ``t0`` is the hook's monotonic
timestamp just before ``start``; the server's broadcast time of each transition comes from the
bench wrapper around ``Hub.broadcast_state`` and the last client's receipt from the load
generator, all on the one monotonic clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.proc import Proc
from bench.stats import percentile
from protocol import STAGES

STAGES_MEASURED = 20


def stage_seconds_for(clients: int) -> float:
    """0.1 s stages, or 0.5 s from 5,000 clients on, where one fan-out takes 50-150 ms and
    a shorter stage would only measure the previous broadcast still going out."""
    return 0.1 if clients <= 1000 else 0.5


@dataclass(slots=True)
class StageTiming:
    """Signed errors (ms) of each transition, with k its index within its calculation."""

    clients: int
    stage_seconds: float
    server_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    k: list[int] = field(default_factory=list)

    def abs_p99(self, values: list[float]) -> float:
        """p99 of the absolute error."""
        return percentile([abs(v) for v in values], 99)

    def drift_ms(self) -> float:
        """Mean server error of the last transition (k=3) minus that of the first (k=1)."""
        first = [e for e, k in zip(self.server_ms, self.k, strict=True) if k == 1]
        last = [e for e, k in zip(self.server_ms, self.k, strict=True) if k == STAGES]
        if not first or not last:
            return math.nan
        return sum(last) / len(last) - sum(first) / len(first)

    def trend_ms(self) -> float:
        """Mean server error of the last calculation minus that of the first (ms)."""
        if len(self.server_ms) < 2 * STAGES:
            return math.nan
        return (sum(self.server_ms[-STAGES:]) - sum(self.server_ms[:STAGES])) / STAGES


def measure_stages(server: Proc, loadgen: Proc, clients: int) -> StageTiming:
    """Run calculations with short stages until ``STAGES_MEASURED`` transitions are timed."""
    stage = stage_seconds_for(clients)
    result = StageTiming(clients=clients, stage_seconds=stage)
    server.ask(f"STAGE {stage}")
    grid_ns = int(stage * 1e9)
    while len(result.k) < STAGES_MEASURED:
        _, seq_text, t0_text, *_ = server.ask("START")
        seq, t0 = int(seq_text), int(t0_text)
        wait = stage * STAGES + 10
        receipts = [
            loadgen.ask(f"WAIT {server.name} {seq + k} {clients} {wait}", timeout=wait + 30)
            for k in range(1, STAGES + 1)
        ]
        pairs = (pair.split(":") for pair in server.ask(f"TIMES {seq}")[1:])
        times = {int(s): int(t) for s, t in pairs}
        for k in range(1, STAGES + 1):
            ideal = t0 + k * grid_ns
            result.k.append(k)
            result.server_ms.append((times[seq + k] - ideal) / 1e6)
            result.client_ms.append((int(receipts[k - 1][4]) - ideal) / 1e6)
    server.ask("STAGE 3600")
    return result
