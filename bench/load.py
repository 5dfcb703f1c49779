"""Load phases against the ledger: saturating (peak throughput) and paced (latency)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import PubAck

from bench.tracker import CommitTracker
from bench.workload import WireMessage
from govchain.bus.subjects import DEFAULT, ChainNames

YIELD_EVERY = 100
DRAIN_TIMEOUT_S = 120.0


@dataclass
class PhaseResult:
    published: int
    committed: int
    seconds: float
    publish_time: dict[str, float] = field(repr=False)
    missing_after_drain: int = 0
    publish_errors: int = 0

    @property
    def rate(self) -> float:
        return self.committed / self.seconds if self.seconds > 0 else 0.0

    def latencies_ms(self, tracker: CommitTracker) -> list[float]:
        return sorted(
            (tracker.commit_time[i] - t) * 1000 for i, t in self.publish_time.items() if i in tracker.commit_time
        )


class Publisher:
    """What ``GovChainClient.publish`` sends (subject, canonical bytes, Nats-Msg-Id, expected
    stream EVENTS), but through ``publish_async`` so thousands of acks can be in flight.
    ``prefix`` replaces ``gov.events.`` (raw baselines); ``names`` sends to that chain's intake."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str | None = None,
        prefix: str | None = None,
        *,
        names: ChainNames = DEFAULT,
    ) -> None:
        self.js = js
        self.stream = stream or names.events_stream
        self.prefix = prefix
        self.names = names
        self.acks: list[asyncio.Future[PubAck]] = []

    async def publish(self, message: WireMessage) -> None:
        subject = (
            self.names.localized(message.subject)
            if self.prefix is None
            else self.prefix + message.subject.removeprefix("gov.events.")
        )
        self.acks.append(
            await self.js.publish_async(
                subject, message.payload, stream=self.stream, headers={"Nats-Msg-Id": message.msg_id}
            )
        )

    async def settle(self) -> int:
        """Wait for every ack; return how many publishes failed."""
        results = await asyncio.gather(*self.acks, return_exceptions=True)
        self.acks.clear()
        return sum(isinstance(r, BaseException) for r in results)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _send(publisher: Publisher, message: WireMessage, publish_time: dict[str, float]) -> None:
    now = time.perf_counter()
    for event_id in message.event_ids:
        publish_time[event_id] = now
    await publisher.publish(message)


async def saturate(
    js: JetStreamContext,
    tracker: CommitTracker,
    messages: list[WireMessage],
    *,
    duration_s: float,
    window: int,
    names: ChainNames = DEFAULT,
) -> PhaseResult:
    """Publish to ``names``'s chain as fast as its ledger commits, keeping at most ``window``
    events uncommitted, for ``duration_s``; the rate counts events committed inside that window
    of time."""
    publisher = Publisher(js, names=names)
    publish_time: dict[str, float] = {}
    start_committed = tracker.committed
    t0 = time.perf_counter()
    deadline = t0 + duration_s

    def uncommitted() -> int:
        return len(publish_time) - (tracker.committed - start_committed)

    sent = 0
    while sent < len(messages) and time.perf_counter() < deadline:
        if uncommitted() >= window:
            await tracker.changed(0.05)
            continue
        for message in messages[sent : sent + YIELD_EVERY]:
            await _send(publisher, message, publish_time)
            sent += 1
            if uncommitted() >= window:
                break
        await asyncio.sleep(0)
    published = len(publish_time)
    while time.perf_counter() < deadline and tracker.committed - start_committed < published:
        await tracker.changed(0.05)
    ended = min(time.perf_counter(), deadline)
    committed = sum(1 for i in publish_time if tracker.commit_time.get(i, float("inf")) <= ended)
    errors = await publisher.settle()
    missing = await tracker.wait_for_ids(list(publish_time), DRAIN_TIMEOUT_S)
    return PhaseResult(published, committed, ended - t0, publish_time, missing, errors)


async def paced(
    js: JetStreamContext, tracker: CommitTracker, messages: list[WireMessage], *, rate: float, duration_s: float
) -> PhaseResult:
    """Open loop: events fall due at ``rate`` per second for ``duration_s`` whatever the
    ledger does. A batch goes out when its last event is due, and each event's latency counts
    from when it fell due, so the time an SDK spends filling a batch is part of the figure."""
    publisher = Publisher(js)
    publish_time: dict[str, float] = {}
    t0 = time.perf_counter()
    sent = events_sent = 0
    total = int(rate * duration_s)
    while sent < len(messages) and events_sent + len(messages[sent].event_ids) <= total:
        due = min(total, int(rate * (time.perf_counter() - t0)) + 1)
        while sent < len(messages) and events_sent + len(messages[sent].event_ids) <= due:
            for offset, event_id in enumerate(messages[sent].event_ids):
                publish_time[event_id] = t0 + (events_sent + offset) / rate
            await publisher.publish(messages[sent])
            events_sent += len(messages[sent].event_ids)
            sent += 1
        await asyncio.sleep(0.002)
    published = events_sent
    errors = await publisher.settle()
    missing = await tracker.wait_for_ids(list(publish_time), DRAIN_TIMEOUT_S)
    seconds = max(tracker.commit_time.get(i, t0) for i in publish_time) - t0 if publish_time else 0.0
    committed = len(publish_time) - missing
    return PhaseResult(published, committed, seconds, publish_time, missing, errors)
