"""Plain JetStream pull consumer for the baseline, in its own process like the orderer.

It consumes ``--count`` messages from stream ``--stream`` with a durable pull consumer
(explicit acks, fetch batches of 500, the same :class:`MessagePuller`: the orderer's
settings), acks each one, and prints one JSON line: ``{"count", "first", "last"}``
(wall-clock seconds).

    python -m bench.raw_consumer --url URL --stream BENCHRAW --count N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from govchain.bus.pull import MessagePuller, ensure_durable

FETCH_BATCH = 500
MAX_ACK_PENDING = 20_000


async def consume(url: str, stream: str, count: int, timeout_s: float) -> dict[str, float]:
    nc = await nats.connect(url, name="bench-raw-consumer")
    js = nc.jetstream()
    config = ConsumerConfig(
        durable_name="bench-raw",
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=MAX_ACK_PENDING,
    )
    await ensure_durable(js, stream, "bench.raw.>", config)
    puller = await MessagePuller(nc, stream, "bench-raw").start()
    print("ready", flush=True)
    got = 0
    first = last = 0.0
    deadline = time.monotonic() + timeout_s
    while got < count and time.monotonic() < deadline:
        msgs = await puller.fetch(FETCH_BATCH, 1.0)
        if not msgs:
            continue
        if not first:
            first = time.time()
        for msg in msgs:
            await msg.ack()
        got += len(msgs)
        last = time.time()
    await nc.drain()
    return {"count": got, "first": first, "last": last}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    result = asyncio.run(consume(args.url, args.stream, args.count, args.timeout))
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["count"] >= args.count else 1)


if __name__ == "__main__":
    main()
