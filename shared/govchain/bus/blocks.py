"""Reading stream BLOCKS from a given height: the one way every reader gets blocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from govchain.bus import subjects

IDLE_TIMEOUT_S = 1.0
STREAM_WAIT_S = 0.5


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

    An ordered consumer re-creates itself after a dropped connection at the next expected
    sequence, so a slow reader or a reconnect never skips a block. Stops after ``to_height``
    when given, or when ``stop`` is set.
    """
    if to_height is not None and to_height < from_height:
        return
    while True:  # a reader may start before the ledger has created the stream
        try:
            sub = await js.subscribe(
                subjects.BLOCKS_SUBJECT,
                stream=subjects.BLOCKS_STREAM,
                ordered_consumer=True,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=subjects.block_sequence(from_height),
                ),
            )
            break
        except NotFoundError:
            if stop is not None and stop.is_set():
                return
            await asyncio.sleep(STREAM_WAIT_S)
    try:
        while stop is None or not stop.is_set():
            try:
                msg = await sub.next_msg(timeout=IDLE_TIMEOUT_S)
            except TimeoutError:
                continue
            height = msg.metadata.sequence.stream - 1
            yield height, msg.data
            if to_height is not None and height >= to_height:
                return
    finally:
        await sub.unsubscribe()
