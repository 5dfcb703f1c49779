"""What pulling a message costs the consumer: nats-py's ``fetch`` against :class:`MessagePuller`.

Both drain the same pre-published messages (700 bytes, a ``Nats-Msg-Id`` each, like an
event) from one durable consumer in batches of 500, acking each; the figure is wall time
per message on an otherwise idle connection, the server included.

    python -m bench.pullcost [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from govchain.bus.embedded import SYNC_ALWAYS, EmbeddedNats
from govchain.bus.pull import MessagePuller, ensure_durable

BATCH = 500
PAYLOAD = b"x" * 700


async def _fill(nc: Client, stream: str, count: int) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream.lower()}.>"]))
    acks = [
        await js.publish_async(f"{stream.lower()}.m", PAYLOAD, headers={"Nats-Msg-Id": f"{stream}-{i}"})
        for i in range(count)
    ]
    await asyncio.gather(*acks)


def _config() -> ConsumerConfig:
    return ConsumerConfig(durable_name="cost", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=100_000)


async def _nats_py(nc: Client, count: int) -> float:
    await _fill(nc, "NATSPY", count)
    psub = await nc.jetstream().pull_subscribe("natspy.>", durable="cost", stream="NATSPY", config=_config())
    got, started = 0, time.perf_counter()
    while got < count:
        msgs = await psub.fetch(batch=BATCH, timeout=2)
        for msg in msgs:
            await msg.ack()
        got += len(msgs)
    return (time.perf_counter() - started) / got * 1e6


async def _batch_puller(nc: Client, count: int) -> float:
    await _fill(nc, "PULLER", count)
    await ensure_durable(nc.jetstream(), "PULLER", "puller.>", _config())
    puller = await MessagePuller(nc, "PULLER", "cost").start()
    got, started = 0, time.perf_counter()
    while got < count:
        msgs = await puller.fetch(BATCH, 2)
        for msg in msgs:
            await msg.ack()
        got += len(msgs)
    await puller.close()
    return (time.perf_counter() - started) / got * 1e6


async def measure(count: int, sync_interval: str = SYNC_ALWAYS) -> dict[str, float]:
    """µs per message pulled and acked, each way, on a throw-away server (acks are writes:
    it fsyncs as the benchmark's own server does)."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedNats(Path(tmp) / "nats", port=0, sync_interval=sync_interval) as server,
    ):
        nc = await nats.connect(server.url)
        try:
            return {
                "nats_py_fetch_us_per_msg": await _nats_py(nc, count),
                "batch_puller_us_per_msg": await _batch_puller(nc, count),
            }
        finally:
            await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    print(json.dumps(asyncio.run(measure(parser.parse_args().messages))))


if __name__ == "__main__":
    main()
