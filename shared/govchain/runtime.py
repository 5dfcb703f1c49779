"""Tuning a long-running service process: CPython's cyclic garbage collector.

CPython 3.11 runs a full collection after about 700 × 10 × 10 allocations of container
objects, and each one walks every tracked object in the process: modules, pydantic schemas,
SQLAlchemy metadata, the chain state. The orderer allocates a few hundred objects per
event, so at its peak full collections ran several times a second and cost 10–17 µs per
event, up to a fifth of its CPU (bench/RESULTS.md). The objects start-up builds live as
long as the process; freezing them moves them out of every later collection.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govchain.config import Settings


def settle_process(settings: Settings) -> None:
    """What ``govchain up`` and ``govchain serve`` do once start-up is done."""
    settle_for_service(freeze=settings.gc_freeze, young_threshold=settings.gc_young_threshold)


def settle_for_service(*, freeze: bool = True, young_threshold: int = 0) -> None:
    """Once start-up is done: collect, then move everything that survived out of all later
    collections (``gc.freeze``). ``young_threshold`` > 0 also lets the youngest generation
    grow to that many objects before it is collected (fewer collections, more memory);
    0 keeps Python's threshold."""
    if freeze:
        gc.collect()
        gc.freeze()
    if young_threshold > 0:
        _, middle, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, middle, oldest)
