"""Reading a stream from a sequence on, with JetStream's batched direct get: no consumer.

Readers used to follow BLOCKS with ordered (push) consumers. Creating one names its
delivery subject in the request body, which NATS permissions cannot see, so a reader
allowed to create consumers could make the server push blocks onto any subject (another
service's request subject, another user's inbox). Direct get (``$JS.API.DIRECT.GET.<stream>``
with ``{"seq", "batch", "max_bytes"}``, nats-server 2.11+) answers on the requester's own
inbox and keeps no state on the server, so readers need no consumer rights at all, and a
reader that stops and starts again simply asks from its own checkpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import ConnectionReconnectingError, NoRespondersError
from nats.js import JetStreamContext

from govchain.protocol.errors import GovChainError

BATCH = 256
"""Messages asked for at once: enough to keep a catch-up busy, bounded by MAX_BYTES too."""
MAX_BYTES = 8 * 1024 * 1024
"""Bytes asked for at once; the server always sends at least one message (a block may be 4 MiB)."""
REPLY_TIMEOUT_S = 5.0
IDLE_POLL_MIN_S = 0.005
IDLE_POLL_MAX_S = 0.05
"""A reader at the head asks again after this long at most: new blocks reach it within ~50 ms."""
STREAM_WAIT_S = 0.5
PENDING_BYTES = 64 * 1024 * 1024


class StreamReadError(GovChainError):
    """The server answered a direct get with an error, or left a gap in the sequence."""


@dataclass(frozen=True, slots=True)
class StreamMessage:
    seq: int
    subject: str
    data: bytes


def _client(js: JetStreamContext) -> tuple[Client, str]:
    """The connection and API prefix of a JetStream context (nats-py keeps them private)."""
    return js._nc, js._prefix  # noqa: SLF001 - nats-py has no public accessor for either


async def read_batch(js: JetStreamContext, stream: str, seq: int, *, batch: int = BATCH) -> list[StreamMessage]:
    """Up to ``batch`` messages from ``seq`` on, in order; empty when there is none yet.

    Raises :class:`NoRespondersError` while the stream does not exist."""
    nc, prefix = _client(js)
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, pending_bytes_limit=PENDING_BYTES)
    try:
        request = json.dumps({"seq": seq, "batch": batch, "max_bytes": MAX_BYTES}).encode()
        await nc.publish(f"{prefix}.DIRECT.GET.{stream}", request, reply=inbox)
        found: list[StreamMessage] = []
        while True:
            try:
                msg = await sub.next_msg(timeout=REPLY_TIMEOUT_S)
            except TimeoutError:
                if found:  # the end-of-batch marker went missing; what came is still good
                    return found
                raise
            headers = msg.headers or {}
            status = headers.get("Status")
            if status == "503":
                raise NoRespondersError
            if status in ("404", "204"):  # nothing at seq yet / end of this batch
                return found
            if status is not None:
                raise StreamReadError(f"direct get of {stream} at {seq} answered {status} {msg.data[:200]!r}")
            found.append(StreamMessage(int(headers["Nats-Sequence"]), headers.get("Nats-Subject", ""), msg.data))
    finally:
        await sub.unsubscribe()


async def follow_batches(
    js: JetStreamContext,
    stream: str,
    from_seq: int,
    *,
    stop: asyncio.Event | None = None,
    gapless: bool = True,
    batch: int = BATCH,
) -> AsyncIterator[list[StreamMessage]]:
    """Yield the messages of ``stream`` from ``from_seq`` on, a batch at a time, in order, until
    ``stop``. At the head it waits for more. A reader may start before the stream exists
    (the ledger creates it). With ``gapless`` a missing sequence is an error: BLOCKS is
    append-only, so a gap means the stream was tampered with."""
    seq, idle = from_seq, IDLE_POLL_MIN_S
    while stop is None or not stop.is_set():
        try:
            messages = await read_batch(js, stream, seq, batch=batch)
        except NoRespondersError:  # no stream yet, or its leader is being elected
            await _pause(stop, STREAM_WAIT_S)
            continue
        except (TimeoutError, ConnectionReconnectingError):  # the answer was lost to a reconnect: ask again
            await _pause(stop, STREAM_WAIT_S)
            continue
        if not messages:
            await _pause(stop, idle)
            idle = min(idle * 2, IDLE_POLL_MAX_S)
            continue
        idle = IDLE_POLL_MIN_S
        if gapless:
            for expected, message in enumerate(messages, seq):
                if message.seq != expected:
                    raise StreamReadError(f"stream {stream} has no message {expected} (next is {message.seq})")
        yield messages
        seq = messages[-1].seq + 1


async def read_stream(
    js: JetStreamContext,
    stream: str,
    from_seq: int,
    *,
    to_seq: int | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[StreamMessage]:
    """:func:`follow_batches` one message at a time, gapless, until ``to_seq`` or ``stop``."""
    if to_seq is not None and to_seq < from_seq:
        return
    async for messages in follow_batches(js, stream, from_seq, stop=stop):
        for message in messages:
            yield message
            if to_seq is not None and message.seq >= to_seq:
                return
            if stop is not None and stop.is_set():
                return


async def _pause(stop: asyncio.Event | None, seconds: float) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
