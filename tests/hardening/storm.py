"""Building hostile intake traffic and accounting for every message afterwards.

Every message published to ``gov.events.>`` must end in exactly one of: a record on stream
REJECTED naming its intake sequence, one inclusion on chain, or a de-duplication (by JetStream
on its message id, or by the orderer because the same event is already on chain).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import PubAck

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.stream_reader import read_stream
from govchain.protocol.batch import EventBatch
from govchain.protocol.envelope import MAX_EVENT_BYTES, Envelope, parse_envelope
from govchain.protocol.errors import EventRejected
from tests.integration.conftest import Ledger

REJECT = "reject"
COMMIT = "commit"
REJECT_OR_COMMIT = "reject-or-commit"
JS_DUPLICATE = "js-duplicate"
CHAIN_DUPLICATE = "chain-duplicate"


@dataclass
class StormMessage:
    label: str
    subject: str
    data: bytes
    msg_id: str | None
    expect: str
    reason: str | None = None
    """The rejection reason expected (None: any reason)."""
    event_id: str | None = None
    """For events that may commit: the id to look for on chain."""
    batch_ids: tuple[str, ...] = ()
    """For a batch envelope: the ids of the events it carries, each to be on chain once."""

    @classmethod
    def of(
        cls,
        label: str,
        envelope: Envelope,
        expect: str,
        *,
        reason: str | None = None,
        subject: str | None = None,
        msg_id: str | None = None,
        header: bool = True,
    ) -> StormMessage:
        """A signed event; its message id is the event id unless ``msg_id`` (or no header at all)."""
        return cls(
            label,
            subject or subjects.event_subject(envelope.source, envelope.type),
            envelope.to_bytes(),
            (msg_id or envelope.msg_id) if header else None,
            expect,
            reason,
            envelope.id,
        )

    @classmethod
    def of_batch(cls, label: str, batch: EventBatch, expect: str, *, msg_id: str | None = None) -> StormMessage:
        """A batch envelope; its message id is the batch's unless ``msg_id``."""
        ids = tuple(str(event["id"]) for event in batch.events)
        return cls(
            label, subjects.batch_subject(batch.source), batch.to_bytes(), msg_id or batch.msg_id, expect, batch_ids=ids
        )


@dataclass
class Sent:
    message: StormMessage
    ack: PubAck


async def publish_all(js: JetStreamContext, messages: list[StormMessage]) -> list[Sent]:
    sent = []
    for message in messages:
        headers = {"Nats-Msg-Id": message.msg_id} if message.msg_id is not None else None
        ack = await js.publish(message.subject, message.data, headers=headers)
        sent.append(Sent(message, ack))
    return sent


def mutants(wire: bytes, count: int, rng: random.Random) -> list[bytes]:
    """Random damage to good wire bytes: flips, deletions, insertions, truncations, splices."""
    out = []
    for _ in range(count):
        data = bytearray(wire)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data)) if data else 0
            op = rng.choice(["flip", "delete", "insert", "truncate", "splice"])
            if op == "flip" and data:
                data[at] ^= 1 << rng.randrange(8)
            elif op == "delete":
                del data[at : at + rng.randint(1, 16)]
            elif op == "insert":
                data[at:at] = rng.randbytes(rng.randint(1, 8))
            elif op == "truncate":
                del data[at:]
            else:
                data[at:at] = rng.choice([b'"', b"{", b"}", b"[", b",", b":", b"\\", b"\\u", b"NaN", b"1e999"])
        out.append(bytes(data))
    return out


def garbage(rng: random.Random, count: int) -> list[bytes]:
    fixed = [
        b"",
        b"null",
        b"[]",
        b"{}",
        b"0",
        b'"text"',
        b"\xff\xfe not utf-8",
        b"{" * 50_000,
        b"[" * 100_000,
        b'{"a":1,"a":2}',
        b'{"id":NaN}',
        b'{"id":1e999}',
        b"\x00" * 64,
        "{\u2028}".encode(),
    ]
    return fixed + [rng.randbytes(rng.randint(1, 2048)) for _ in range(count)]


def oversized_payloads() -> list[bytes]:
    """Above the 256 KiB event limit, below the NATS max payload: refused by the orderer."""
    return [
        b" " * (MAX_EVENT_BYTES + 1),
        json.dumps({"id": "big", "data": {"blob": "x" * (MAX_EVENT_BYTES + 10)}}).encode(),
        b"[" + b"1," * (MAX_EVENT_BYTES // 2) + b"1]",
    ]


async def wait_drained(js: JetStreamContext, timeout: float = 120.0) -> None:
    """Until stream EVENTS (a work queue: acked messages leave it) is empty and nothing is in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await js.stream_info(subjects.EVENTS_STREAM)
        consumer = await js.consumer_info(subjects.EVENTS_STREAM, subjects.ORDERER_CONSUMER)
        if info.state.messages == 0 and consumer.num_ack_pending == 0 and consumer.num_pending == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"stream EVENTS still holds {info.state.messages} messages after {timeout}s")


async def read_rejections(js: JetStreamContext) -> dict[int, list[dict[str, Any]]]:
    """Every record on stream REJECTED, by the intake sequence it names."""
    by_seq: dict[int, list[dict[str, Any]]] = {}
    newest = (await js.stream_info(subjects.REJECTED_STREAM)).state.last_seq
    async for message in read_stream(js, subjects.REJECTED_STREAM, 1, to_seq=newest):
        record = json.loads(message.data)
        by_seq.setdefault(record["intake_seq"], []).append(record)
    return by_seq


async def read_chain_ids(js: JetStreamContext) -> Counter[str]:
    newest = await last_height(js)
    ids: Counter[str] = Counter()
    async for _, raw in follow_blocks(js, 0, to_height=newest):
        ids.update(event["id"] for event in json.loads(raw)["events"])
    return ids


def envelope_id(data: bytes) -> str | None:
    try:
        return parse_envelope(data).id
    except EventRejected:
        return None


def keeps_original(record: dict[str, Any], data: bytes) -> bool:
    """A refusal keeps the bytes whole, or (beyond what one message holds) a prefix and the
    SHA-256 and size of the whole."""
    kept = base64.b64decode(record["original_b64"])
    if record.get("original_truncated"):
        return (
            data.startswith(kept)
            and record["original_size"] == len(data)
            and record["original_sha256"] == hashlib.sha256(data).hexdigest()
        )
    return kept == data and record["original_sha256"] == hashlib.sha256(data).hexdigest()


def account(sent: list[Sent], rejections: dict[int, list[dict[str, Any]]], on_chain: Counter[str]) -> list[str]:
    """Check every message against its expectation; return the problems found (empty: all good)."""
    problems = []
    for item in sent:
        m, ack = item.message, item.ack
        records = [] if ack.duplicate else rejections.get(ack.seq, [])
        where = f"{m.label} (seq {ack.seq}, msg id {m.msg_id!r})"
        if m.expect == JS_DUPLICATE:
            if not ack.duplicate:
                problems.append(f"{where}: JetStream did not de-duplicate it")
            continue
        if ack.duplicate:
            problems.append(f"{where}: unexpectedly de-duplicated by JetStream")
            continue
        if m.expect == REJECT:
            if len(records) != 1:
                problems.append(f"{where}: {len(records)} rejection records, expected 1")
                continue
            record = records[0]
            if m.reason is not None and record["reason"] != m.reason:
                problems.append(f"{where}: rejected as {record['reason']}, expected {m.reason}")
            if not keeps_original(record, m.data) or record["subject"] != m.subject:
                problems.append(f"{where}: the rejection record does not keep the original message")
            if not record.get("detail"):
                problems.append(f"{where}: the rejection has no detail")
        elif m.expect in (COMMIT, CHAIN_DUPLICATE):
            if records:
                problems.append(f"{where}: rejected ({records[0]['reason']}) but should be on chain")
            for event_id in m.batch_ids or (m.event_id or "",):
                if on_chain[event_id] != 1:
                    problems.append(f"{where}: {event_id} on chain {on_chain[event_id]} times, expected once")
        elif m.expect == REJECT_OR_COMMIT:
            event_id = envelope_id(m.data)
            committed = event_id is not None and on_chain[event_id] == 1 and not records
            if len(records) != 1 and not committed:
                problems.append(f"{where}: neither rejected once nor on chain once")
    duplicated = [i for i, n in on_chain.items() if n > 1]
    if duplicated:
        problems.append(f"event ids on chain more than once: {duplicated}")
    return problems


async def assert_storm_survived(ledger: Ledger, sent: list[Sent], after: Envelope) -> None:
    """After a storm: the intake drained, the orderer still running, a good event (``after``)
    still commits, every message accounted for, and the whole chain verifies."""
    js = ledger.nc.jetstream()
    await wait_drained(js)
    assert ledger.task is not None and not ledger.task.done(), "the orderer stopped"
    assert (await ledger.submit(after))["status"] == "committed"
    problems = account(sent, await read_rejections(js), await read_chain_ids(js))
    assert not problems, "\n".join(problems)
    report = await verify_chain(js, genesis_hash=ledger.settings.genesis_hash)
    assert report.ok, report
