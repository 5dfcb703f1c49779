"""``govchain``, exactly as an operator runs it, except that an error the command line turns
into one line ("error: cannot reach NATS: nats: timeout") also leaves its traceback in the
log: the harness must say where a service died, not only that it did.

Run as ``python -m tests.crash.traced <govchain arguments>``.
"""

from __future__ import annotations

import traceback
from collections.abc import Coroutine
from typing import Any, TypeVar

from govchain.services.cli import app, common

T = TypeVar("T")
_run = common.run


def _traced_run(coro: Coroutine[Any, Any, T]) -> T:
    async def traced() -> T:
        try:
            return await coro
        except Exception:
            traceback.print_exc()
            raise

    return _run(traced())


app.run = _traced_run  # the commands call the name they imported

if __name__ == "__main__":
    app.main()
