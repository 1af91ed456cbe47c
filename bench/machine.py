"""What the figures were measured on: CPU, kernel, versions, and how busy the machine was."""

from __future__ import annotations

import os
import platform
import resource
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGES = ("aiohttp", "msgspec", "uvloop", "picows", "websockets", "textual")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def versions() -> dict[str, str]:
    """Installed version of each package the figures depend on."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def describe() -> str:
    """One line: CPU model, cores, memory, kernel."""
    return (
        f"{_cpu_model()}, {os.cpu_count()} cores, {_mem_total_gib():.0f} GiB, "
        f"Linux {platform.release()}"
    )


def _busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(slots=True)
class Load:
    """CPU used on the machine by processes other than the benchmark's, while it ran."""

    busy0: float
    own0: float
    loadavg0: str
    foreign_seconds: float = 0.0
    loadavg1: str = ""

    @classmethod
    def start(cls) -> Load:
        """Begin counting."""
        return cls(_busy_seconds(), _own_seconds(), Path("/proc/loadavg").read_text()[:14])

    def stop(self) -> None:
        """Stop counting (after every child has been waited for)."""
        busy = _busy_seconds() - self.busy0
        self.foreign_seconds = max(0.0, busy - (_own_seconds() - self.own0))
        self.loadavg1 = Path("/proc/loadavg").read_text()[:14]
