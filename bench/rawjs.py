"""The baseline: the same payloads through plain JetStream, publish with ack + pull consume.

The stream is configured like EVENTS (work queue, file storage, same duplicate window) and
the consumer runs in its own process with the orderer's fetch/ack settings, so the ratio
``events_per_s / raw_jetstream_per_s`` isolates what GovChain adds on top of the bus.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig

from bench.load import Publisher
from bench.platform import REPO_ROOT
from bench.workload import WireMessage, event_count
from govchain.bus.streams import DUPLICATE_WINDOW

RAW_STREAM = "BENCHRAW"


@dataclass
class RawResult:
    messages: int
    events: int
    seconds: float
    publish_seconds: float
    publish_errors: int

    @property
    def rate(self) -> float:
        """Events per second (a batch message carries many)."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def publish_rate(self) -> float:
        return self.events / self.publish_seconds if self.publish_seconds > 0 else 0.0


async def raw_jetstream(js: JetStreamContext, nats_url: str, messages: list[WireMessage]) -> RawResult:
    await js.add_stream(
        StreamConfig(
            name=RAW_STREAM,
            subjects=["bench.raw.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        )
    )
    consumer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.raw_consumer",
        "--url",
        nats_url,
        "--stream",
        RAW_STREAM,
        "--count",
        str(len(messages)),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert consumer.stdout is not None
    if (await consumer.stdout.readline()).strip() != b"ready":
        raise RuntimeError("raw consumer did not start")
    publisher = Publisher(js, stream=RAW_STREAM, prefix="bench.raw.")
    t0 = time.time()
    for n, message in enumerate(messages, 1):
        await publisher.publish(message)
        if n % 100 == 0:
            await asyncio.sleep(0)
    errors = await publisher.settle()
    published_at = time.time()
    line = await consumer.stdout.readline()
    await consumer.wait()
    consumed = json.loads(line)
    await js.delete_stream(RAW_STREAM)
    got = int(consumed["count"])
    events = event_count(messages) * got // len(messages) if messages else 0
    return RawResult(got, events, consumed["last"] - t0, published_at - t0, errors)
