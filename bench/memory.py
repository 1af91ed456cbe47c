"""Server memory: RSS per idle connection and its growth after broadcasting."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Memory:
    """Server VmRSS (KiB) before connecting, with N idle clients, and after the broadcasts."""

    before_kib: int
    connected_kib: int
    after_kib: int
    clients: int
    broadcasts: int

    @property
    def per_connection_kib(self) -> float:
        """RSS added per idle connection."""
        return (self.connected_kib - self.before_kib) / max(self.clients, 1)

    @property
    def growth_kib(self) -> int:
        """RSS added by the broadcasts (0 is the target)."""
        return self.after_kib - self.connected_kib
