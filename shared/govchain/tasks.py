"""Stopping asyncio tasks for sure.

One ``task.cancel()`` is not always enough on CPython 3.11. A task awaiting another task
hands its cancellation on to the inner one; if that inner task's ``asyncio.wait_for`` sees
its future complete in the same loop iteration, it returns the result and the cancellation
is lost (python/cpython#86296, fixed in 3.12). nats-py's ``Subscription.next_msg`` is built
that way, so a block reader polling at the chain head can swallow the cancel meant to stop
it and go on reading: whoever waits for it to end then waits for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

RECANCEL_AFTER_S = 5.0
"""How long a cancelled task gets to end before it is cancelled again (twice as long each time
after): its ``finally`` may still be at work, draining NATS (whose in-flight handlers may wait
up to ``READ_YOUR_WRITES_WAIT_S``) or releasing a lease, and a new cancel would cut that short."""


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]], *, recancel_after_s: float | None = None) -> None:
    """Cancel ``tasks`` and return once every one has ended, cancelling again those still
    running after ``recancel_after_s`` (default :data:`RECANCEL_AFTER_S`: the cancel was lost, or
    their cleanup is stuck). Their
    outcomes are retrieved (so asyncio does not report them as never retrieved) and dropped: a
    caller that wants a failure has it already."""
    every = list(tasks)
    pending = {task for task in every if not task.done()}
    patience = RECANCEL_AFTER_S if recancel_after_s is None else recancel_after_s
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=patience)
        patience *= 2
    for task in every:
        if not task.cancelled():
            task.exception()
