"""Commit times from the block stream: when each event id first appears in a block.

Polling receipts per event would cost a request each; following stream BLOCKS (as every
projection does) sees every commit once, in order, at the moment the block is appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable

from nats.js import JetStreamContext

from govchain.bus.blocks import follow_blocks
from govchain.bus.subjects import DEFAULT, ChainNames


class CommitTracker:
    def __init__(
        self,
        js: JetStreamContext,
        from_height: int,
        on_block: Callable[[int], None] | None = None,
        names: ChainNames = DEFAULT,
    ) -> None:
        self.js = js
        self.names = names
        self.from_height = from_height
        self.on_block = on_block
        self.commit_time: dict[str, float] = {}
        self.committed = 0
        self.height = from_height - 1
        self.log_size = 0
        self.blocks = 0
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="commit-tracker")

    async def _follow(self) -> None:
        async for height, raw in follow_blocks(self.js, self.from_height, stop=self._stop, names=self.names):
            now = time.perf_counter()
            block = json.loads(raw)
            for event in block["events"]:
                self.commit_time.setdefault(event["id"], now)
            self.committed += len(block["events"])
            self.height = height
            self.log_size = block["header"]["log_size"]
            self.blocks += 1
            if self.on_block is not None:
                self.on_block(self.log_size)
            self._changed.set()

    async def changed(self, timeout: float) -> None:
        """Wait (bounded) for the next block."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def wait_for_ids(self, ids: list[str], timeout: float) -> int:
        """Wait until every id has committed or ``timeout`` passes; return how many are missing."""
        deadline = time.monotonic() + timeout
        missing = [i for i in ids if i not in self.commit_time]
        while missing and time.monotonic() < deadline:
            await self.changed(0.5)
            missing = [i for i in missing if i not in self.commit_time]
        return len(missing)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)
