"""The peers a broadcast writes to, kept flat for the send loop.

A broadcast's cost per peer beyond the system call is mostly memory the loop has to touch: on a
busy machine every object a peer adds is a likely cache miss, repeated for every peer. So the
loop reads two parallel arrays, transports and socket fds, in order, and nothing else of a peer;
removing a peer moves the last one into its slot, so every change is O(1).
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Targets(Generic[K]):
    """Keys (peers) with their transport and fd, the last two in flat arrays for the loop."""

    def __init__(self) -> None:
        self.transports: list[asyncio.Transport] = []
        """Transport of the peer in each slot; read by the send loop."""
        self.fds = array("i")
        """Socket fd of the peer in each slot (-1: write through the transport only)."""
        self._keys: list[K] = []
        self._slots: dict[K, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def add(self, key: K, transport: asyncio.Transport, fd: int) -> None:
        """Put ``key`` in the last slot (nothing happens if it is already there)."""
        if key in self._slots:
            return
        self._slots[key] = len(self._keys)
        self._keys.append(key)
        self.transports.append(transport)
        self.fds.append(fd)

    def pop(self, key: K) -> int | None:
        """Take ``key`` out and return its fd, or None if it was not there."""
        slot = self._slots.pop(key, None)
        if slot is None:
            return None
        fd = self.fds[slot]
        last = len(self._keys) - 1
        if slot != last:
            moved = self._keys[slot] = self._keys[last]
            self.transports[slot] = self.transports[last]
            self.fds[slot] = self.fds[last]
            self._slots[moved] = slot
        self._keys.pop()
        self.transports.pop()
        self.fds.pop()
        return fd

    def keys_of(self, transports: Iterable[asyncio.Transport]) -> list[K]:
        """The keys whose transport is one of ``transports`` (a pass over all: rare use only)."""
        wanted = {id(t) for t in transports}
        return [k for k, t in zip(self._keys, self.transports, strict=True) if id(t) in wanted]
