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

RECANCEL_AFTER_S = 0.25
"""How long a cancelled task gets to end before it is cancelled again."""


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]], *, recancel_after_s: float = RECANCEL_AFTER_S) -> None:
    """Cancel ``tasks`` and return once every one has ended, cancelling again those that
    swallowed the cancellation. Their outcomes are retrieved (so asyncio does not report
    them as never retrieved) and dropped: a caller that wants a failure has it already."""
    every = list(tasks)
    pending = {task for task in every if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=recancel_after_s)
    for task in every:
        if not task.cancelled():
            task.exception()
