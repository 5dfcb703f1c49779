"""Reading stream BLOCKS from a given height: the one way every reader gets blocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from nats.js import JetStreamContext

from govchain.bus import subjects
from govchain.bus.stream_reader import read_stream


async def last_height(js: JetStreamContext) -> int:
    """Height of the newest block on the stream; -1 when there is none."""
    return (await js.stream_info(subjects.BLOCKS_STREAM)).state.last_seq - 1


async def follow_blocks(
    js: JetStreamContext,
    from_height: int,
    *,
    to_height: int | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[tuple[int, bytes]]:
    """Yield ``(height, raw block)`` from ``from_height`` on, in order, with no gaps.

    Read with batched direct gets (:mod:`govchain.bus.stream_reader`): no consumer on the
    server, so a reader needs no right that could aim deliveries elsewhere, and a slow reader
    or a reconnect never skips a block. Stops after ``to_height`` when given, or when
    ``stop`` is set.
    """
    to_seq = None if to_height is None else subjects.block_sequence(to_height)
    async for message in read_stream(
        js, subjects.BLOCKS_STREAM, subjects.block_sequence(from_height), to_seq=to_seq, stop=stop
    ):
        yield message.seq - 1, message.data
