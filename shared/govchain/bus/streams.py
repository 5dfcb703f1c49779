"""JetStream stream definitions and their idempotent creation."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from govchain.bus.errors import NATS_ERRORS, is_transient
from govchain.bus.subjects import DEFAULT, ChainNames

DUPLICATE_WINDOW = timedelta(minutes=10)
CHECKPOINT_HISTORY = 100_000
"""Witnessed checkpoints kept (the oldest go first): weeks of history at one per second of
traffic. Only the newest is needed to check the chain; the witnesses keep their own."""


def stream_configs(replicas: int = 1, names: ChainNames = DEFAULT) -> list[StreamConfig]:
    """EVENTS is an intake queue (the chain is the record, so acked events leave it);
    BLOCKS is append-only: no deletes, no purges; REJECTED keeps every refusal; CHECKPOINTS
    keeps the newest witnessed checkpoints (no deletes, no purges; the oldest age out).
    ``names``: whose chain (each chain on a shared cluster has its own four streams)."""
    window = DUPLICATE_WINDOW.total_seconds()
    return [
        StreamConfig(
            name=names.events_stream,
            subjects=[names.events_subjects],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=window,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=names.rejected_stream,
            subjects=[names.rejected_subjects],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            duplicate_window=window,
            allow_direct=True,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=names.blocks_stream,
            subjects=[names.blocks_subject],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.NEW,
            storage=StorageType.FILE,
            duplicate_window=window,
            deny_delete=True,
            deny_purge=True,
            allow_direct=True,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=names.checkpoints_stream,
            subjects=[names.checkpoints_subject, names.sha256_checkpoints_subject],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_msgs=CHECKPOINT_HISTORY,
            storage=StorageType.FILE,
            duplicate_window=window,
            deny_delete=True,
            deny_purge=True,
            allow_direct=True,
            num_replicas=replicas,
        ),
    ]


async def ensure_streams(
    js: JetStreamContext, replicas: int = 1, *, names: ChainNames = DEFAULT, patience_s: float = 60.0
) -> None:
    """Create the streams if missing; leave existing ones as they are.

    A cluster that has just started answers "JetStream not ready" until it has elected its
    meta leader, so this retries for up to ``patience_s`` before giving up."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            for config in stream_configs(replicas, names):
                assert config.name, "every stream GovChain makes is named"
                try:
                    await js.stream_info(config.name)
                except NotFoundError:
                    await js.add_stream(config)
            return
        except NATS_ERRORS as exc:
            if not is_transient(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)
