"""Soak: minutes of mixed traffic into a running ledger, restarted twice (once cleanly, once
abruptly, as a crash would), and then nothing is lost and nothing is ordered twice.

Skipped unless GOVCHAIN_SOAK=1. GOVCHAIN_SOAK_SECONDS (default 120) bounds the publishing
time and GOVCHAIN_SOAK_RATE (default 200 messages/s) the rate; the run stops by itself.

    GOVCHAIN_SOAK=1 .venv/bin/python -m pytest tests/hardening/test_soak.py -q -s
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time

import pytest

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.protocol.batch import EventBatch, sign_batch
from govchain.protocol.envelope import Envelope
from tests.integration.conftest import Ledger

from .storm import (
    CHAIN_DUPLICATE,
    COMMIT,
    JS_DUPLICATE,
    REJECT,
    Sent,
    StormMessage,
    account,
    garbage,
    read_chain_ids,
    read_rejections,
    wait_drained,
)

pytestmark = [
    pytest.mark.soak,
    pytest.mark.skipif(os.environ.get("GOVCHAIN_SOAK") != "1", reason="soak test: set GOVCHAIN_SOAK=1 to run it"),
]

DEPARTMENTS = ("tax", "land", "health")
TICK_S = 0.05


class Traffic:
    """Mostly fresh events, some in batch envelopes; some JetStream duplicates, replays under
    new ids (of events and of whole batches), and garbage."""

    def __init__(self, ledger: Ledger, rng: random.Random) -> None:
        self.ledger = ledger
        self.rng = rng
        self.recent: list[Envelope] = []
        self.batches: list[EventBatch] = []
        self.n = 0

    def next(self) -> StormMessage:
        self.n += 1
        roll = self.rng.random()
        if self.batches and roll < 0.02:
            return StormMessage.of_batch(
                "batch replay", self.rng.choice(self.batches), CHAIN_DUPLICATE, msg_id=f"batch-replay-{self.n}"
            )
        if 0.95 <= roll:
            department = self.rng.choice(DEPARTMENTS)
            events = [self.ledger.document(department, self.n * 1000 + k) for k in range(self.rng.randint(2, 40))]
            batch = sign_batch(self.ledger.department_keys[department], events)
            self.batches.append(batch)
            return StormMessage.of_batch("fresh batch", batch, COMMIT)
        if self.recent and roll < 0.05:
            return StormMessage.of("duplicate", self.rng.choice(self.recent[-50:]), JS_DUPLICATE)
        if self.recent and roll < 0.10:
            return StormMessage.of("replay", self.rng.choice(self.recent), CHAIN_DUPLICATE, msg_id=f"replay-{self.n}")
        if roll < 0.13:
            body = garbage(self.rng, 1)[-1]
            return StormMessage(
                "garbage", subjects.event_subject("tax", "document.registered"), body, f"junk-{self.n}", REJECT
            )
        envelope = self.ledger.document(self.rng.choice(DEPARTMENTS), self.n)
        self.recent.append(envelope)
        return StormMessage.of("fresh", envelope, COMMIT)


async def _publish_for(ledger: Ledger, traffic: Traffic, seconds: float, rate: float, sent: list[Sent]) -> None:
    js = ledger.nc.jetstream()
    t0 = time.monotonic()
    published = 0
    while (elapsed := time.monotonic() - t0) < seconds:
        while published < int(rate * elapsed):
            message = traffic.next()
            headers = {"Nats-Msg-Id": message.msg_id} if message.msg_id else None
            sent.append(Sent(message, await js.publish(message.subject, message.data, headers=headers)))
            published += 1
        await asyncio.sleep(TICK_S)


async def _restart(ledger: Ledger, *, abrupt: bool) -> None:
    if abrupt and ledger.task is not None:
        ledger.task.cancel()  # mid-batch if it is busy: blocks appended but events not yet acked
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await ledger.task
        ledger.task = None
    else:
        await ledger.shutdown()
    await asyncio.sleep(1.0)  # traffic keeps arriving: JetStream holds it
    await ledger.start()


@pytest.mark.parametrize("ledger", [{"ack_wait_s": 5.0}], indirect=True)
async def test_soak_with_restarts_loses_nothing_and_orders_nothing_twice(ledger: Ledger) -> None:
    seconds = float(os.environ.get("GOVCHAIN_SOAK_SECONDS", "120"))
    rate = float(os.environ.get("GOVCHAIN_SOAK_RATE", "200"))
    seed = int(os.environ.get("GOVCHAIN_FUZZ_SEED", random.randrange(2**32)))
    print(f"soak: {seconds:.0f}s at {rate:.0f}/s, GOVCHAIN_FUZZ_SEED={seed}")
    for department in DEPARTMENTS:
        await ledger.register_department(department)
    sent: list[Sent] = []
    publisher = asyncio.create_task(_publish_for(ledger, Traffic(ledger, random.Random(seed)), seconds, rate, sent))
    await asyncio.sleep(seconds / 3)
    await _restart(ledger, abrupt=False)
    await asyncio.sleep(seconds / 3)
    await _restart(ledger, abrupt=True)
    await publisher

    js = ledger.nc.jetstream()
    await wait_drained(js, timeout=max(120.0, seconds))
    on_chain = await read_chain_ids(js)
    problems = account(sent, await read_rejections(js), on_chain)
    assert not problems, "\n".join(problems[:50])
    fresh = {i for m in sent if m.message.expect == COMMIT for i in (m.message.batch_ids or (m.message.event_id,))}
    assert fresh <= set(on_chain)
    report = await verify_chain(js, genesis_hash=ledger.settings.genesis_hash)
    assert report.ok, report
    print(f"soak: {len(sent)} messages, {len(fresh)} events committed once each, chain of {report.events} verified")
