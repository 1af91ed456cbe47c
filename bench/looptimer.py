"""How long a server's send loop took, and how much of that it actually ran.

Wall time is what a client waits for. The thread's CPU time leaves out the stretches the loop
was preempted (another process on its core), and the count of involuntary context switches
says whether that happened at all: together they split a slow broadcast into our own work and
the machine's.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field


def _switches() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw


@dataclass(slots=True)
class LoopTimer:
    """Sums wall ns, CPU ns and involuntary switches over the loops timed since ``reset``."""

    wall_ns: int = 0
    cpu_ns: int = 0
    switches: int = 0
    began_ns: int = 0
    """``time.monotonic_ns()`` when the first loop since ``reset`` began."""
    _started: tuple[int, int, int] = field(default=(0, 0, 0))

    def reset(self) -> None:
        """Forget the loops timed so far."""
        self.wall_ns = self.cpu_ns = self.switches = self.began_ns = 0

    def start(self) -> None:
        """Just before the loop."""
        self._started = (_switches(), time.thread_time_ns(), time.monotonic_ns())

    def stop(self) -> None:
        """Just after the loop."""
        wall, cpu, switches = time.monotonic_ns(), time.thread_time_ns(), _switches()
        switches0, cpu0, wall0 = self._started
        self.began_ns = self.began_ns or wall0
        self.wall_ns += wall - wall0
        self.cpu_ns += cpu - cpu0
        self.switches += switches - switches0

    def words(self) -> str:
        """``wall_ns cpu_ns switches began_ns``, the tail of a ``SENT`` reply."""
        return f"{self.wall_ns} {self.cpu_ns} {self.switches} {self.began_ns}"
