"""Reading stream BLOCKS from a given height: the one way every reader gets blocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from nats.js import JetStreamContext

from govchain.bus import subjects
from govchain.bus.stream_reader import follow_batches, read_stream
from govchain.bus.subjects import DEFAULT, ChainNames


async def last_height(js: JetStreamContext, names: ChainNames = DEFAULT) -> int:
    """Height of the newest block on the chain's stream; -1 when there is none."""
    return (await js.stream_info(names.blocks_stream)).state.last_seq - 1


async def follow_blocks(
    js: JetStreamContext,
    from_height: int,
    *,
    to_height: int | None = None,
    stop: asyncio.Event | None = None,
    names: ChainNames = DEFAULT,
) -> AsyncIterator[tuple[int, bytes]]:
    """Yield ``(height, raw block)`` from ``from_height`` on, in order, with no gaps.

    Read with batched direct gets (:mod:`govchain.bus.stream_reader`): no consumer on the
    server, so a reader needs no right that could aim deliveries elsewhere, and a slow reader
    or a reconnect never skips a block. Stops after ``to_height`` when given, or when
    ``stop`` is set.
    """
    to_seq = None if to_height is None else subjects.block_sequence(to_height)
    async for message in read_stream(
        js, names.blocks_stream, subjects.block_sequence(from_height), to_seq=to_seq, stop=stop
    ):
        yield message.seq - 1, message.data


async def follow_block_batches(
    js: JetStreamContext,
    from_height: int,
    *,
    to_height: int | None = None,
    stop: asyncio.Event | None = None,
    names: ChainNames = DEFAULT,
) -> AsyncIterator[list[tuple[int, bytes]]]:
    """:func:`follow_blocks` a direct-get batch at a time (up to
    :data:`~govchain.bus.stream_reader.BATCH` blocks): ``[(height, raw block), ...]``, in order,
    no gaps, so a reader can verify a run of blocks and commit them in one transaction."""
    if to_height is not None and to_height < from_height:
        return
    to_seq = None if to_height is None else subjects.block_sequence(to_height)
    async for messages in follow_batches(js, names.blocks_stream, subjects.block_sequence(from_height), stop=stop):
        batch = [(m.seq - 1, m.data) for m in messages if to_seq is None or m.seq <= to_seq]
        if batch:
            yield batch
        if (to_seq is not None and messages[-1].seq >= to_seq) or (stop is not None and stop.is_set()):
            return
