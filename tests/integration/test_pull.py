"""MessagePuller against a real JetStream: batches, waiting, the hand-back on pause."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from govchain.bus.embedded import EmbeddedNats
from govchain.bus.pull import MessagePuller, ensure_durable

STREAM, CONSUMER = "PULLTEST", "puller"


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["pt.>"]))
    config = ConsumerConfig(durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, ack_wait=30)
    await ensure_durable(js, STREAM, "pt.>", config)
    yield client
    await client.close()


async def publish(nc: Client, first: int, count: int) -> None:
    js = nc.jetstream()
    for n in range(first, first + count):
        await js.publish(f"pt.{n}", str(n).encode())


async def test_fetches_in_order_in_batches_and_every_message_once(nc: Client) -> None:
    await publish(nc, 0, 1234)
    puller = await MessagePuller(nc, STREAM, CONSUMER).start()
    seen: list[int] = []
    sizes: list[int] = []
    while len(seen) < 1234:
        msgs = await puller.fetch(500, 2.0)
        assert msgs, "messages were waiting, yet a fetch came back empty"
        sizes.append(len(msgs))
        for msg in msgs:
            seen.append(int(msg.data))
            await msg.ack()
    assert seen == list(range(1234))
    assert max(sizes) == 500 and all(size <= 500 for size in sizes)
    assert await puller.fetch(500, 0.3) == []  # nothing more: empty after the timeout, no error
    info = await nc.jetstream().consumer_info(STREAM, CONSUMER)
    assert info.num_ack_pending == 0 and info.num_pending == 0
    await puller.close()


async def test_an_idle_fetch_waits_for_a_message_published_later_and_returns_it_promptly(nc: Client) -> None:
    puller = await MessagePuller(nc, STREAM, CONSUMER).start()

    async def later() -> None:
        await asyncio.sleep(0.3)
        await publish(nc, 7, 1)

    task = asyncio.create_task(later())
    started = time.monotonic()
    msgs = await puller.fetch(500, 5.0)
    waited = time.monotonic() - started
    await task
    assert [int(m.data) for m in msgs] == [7]
    assert waited < 4.0, "the fetch waited for its timeout instead of returning the message"
    await puller.close()


@pytest.mark.parametrize("lets_go", ["pause", "close"])
async def test_pause_and_close_hand_back_what_an_open_request_delivered_but_nobody_took(
    nc: Client, lets_go: str
) -> None:
    standby = await MessagePuller(nc, STREAM, CONSUMER).start()

    async def first_event() -> None:
        await asyncio.sleep(0.2)
        await publish(nc, 0, 1)

    task = asyncio.create_task(first_event())
    got = await standby.fetch(50, 5.0)  # an idle fetch: its lingering pull for 50 stays open
    await task
    assert [int(m.data) for m in got] == [0]
    await got[0].ack()
    await publish(nc, 1, 5)  # delivered on the still-open pull into the standby's buffer
    await asyncio.sleep(0.3)
    # It lost its lease, or stops: hand them back at once, not after the ack wait (30 s).
    await (standby.pause() if lets_go == "pause" else standby.close())
    await publish(nc, 6, 2)  # may still reach the paused standby's open pull: handed back too
    await asyncio.sleep(0.3)

    leader = await MessagePuller(nc, STREAM, CONSUMER).start()
    seen: list[int] = []
    started = time.monotonic()
    while len(seen) < 7 and time.monotonic() - started < 10:
        for msg in await leader.fetch(50, 1.0):
            seen.append(int(msg.data))
            await msg.ack()
    assert sorted(seen) == list(range(1, 8))
    assert time.monotonic() - started < 10, "the standby kept the events until their ack wait"
    await leader.close()
    if lets_go == "pause":
        await standby.close()
