"""The block cutter: when the pending events become a block.

Fabric's rules, which operators already know: cut when the count limit is reached; cut
before an event that would overflow the preferred size; an event larger than that goes
alone; the timer starts at the first pending event (the caller owns the clock).
GovChain adds one: an event that changes keys or policy flushes the pending events first,
so a block's earlier events are never judged by a rule that arrives after them in time.
An item may stand for several events (a batch envelope): the count limit counts events,
and an item of more events than the limit goes alone, like an oversized one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")

DEFAULT_MAX_COUNT = 500
"""Events in one block at most (Fabric's ``MaxMessageCount``)."""
DEFAULT_PREFERRED_BYTES = 512 * 1024
"""Bytes of events in one block before it is cut (Fabric's ``PreferredMaxBytes``)."""
DEFAULT_MAX_WAIT_MS = 50
"""How long the first pending event waits for more before its block is cut (Fabric's
``BatchTimeout``). At 200 ms the p99 latency at half rate was ~450 ms against ~200 ms at
50 ms, for the same peak throughput (bench/RESULTS.md)."""


@dataclass(frozen=True, slots=True)
class BlockLimits:
    """When a block is cut. The defaults are the ledger's: its settings
    (``GOVCHAIN_BATCH_MAX_COUNT`` / ``_PREFERRED_BYTES`` / ``_MAX_WAIT_MS``) default to them."""

    max_count: int = DEFAULT_MAX_COUNT
    preferred_bytes: int = DEFAULT_PREFERRED_BYTES
    max_wait_s: float = DEFAULT_MAX_WAIT_MS / 1000

    def __post_init__(self) -> None:
        if self.max_count < 1 or self.preferred_bytes < 1 or self.max_wait_s <= 0:
            raise ValueError("block limits must be positive")


@dataclass
class BlockCutter(Generic[Item]):
    limits: BlockLimits
    _pending: list[Item] = field(default_factory=list)
    _pending_bytes: int = 0
    _pending_events: int = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, item: Item, size: int, *, count: int = 1, flush_before: bool = False) -> list[list[Item]]:
        """Queue ``item`` of ``size`` bytes and ``count`` events; return the contents of each
        block now complete, oldest first."""
        blocks: list[list[Item]] = []
        if self._pending and (
            flush_before
            or self._pending_bytes + size > self.limits.preferred_bytes
            or self._pending_events + count > self.limits.max_count
        ):
            blocks.append(self.cut())
        if size > self.limits.preferred_bytes or count > self.limits.max_count:
            blocks.append([item])
            return blocks
        self._pending.append(item)
        self._pending_bytes += size
        self._pending_events += count
        if self._pending_events >= self.limits.max_count:
            blocks.append(self.cut())
        return blocks

    def cut(self) -> list[Item]:
        """Take the pending events as one block's (on timer expiry, or when a rule above says so)."""
        block, self._pending, self._pending_bytes, self._pending_events = self._pending, [], 0, 0
        return block
