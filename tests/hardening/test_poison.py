"""Poison on the ledger's intake: the worst bytes a publisher can send, on the single-event
and the batch subject of a live ledger, with a department's own subject.

Each message must end as a refusal with a reason (or, for the few that are valid, on chain
once); the orderer must still be running, a good event must still commit, and the chain
must verify. A message on which the orderer itself fails is quarantined as
``internal_error`` after a bounded number of tries, and ordering goes on. Seeded: set
GOVCHAIN_FUZZ_SEED to replay.
"""

from __future__ import annotations

import asyncio
import json
import os
import random

import pytest

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.bus.embedded import MAX_PAYLOAD
from govchain.protocol import state as state_module
from govchain.protocol.batch import sign_batch
from govchain.protocol.envelope import MAX_EVENT_BYTES, Envelope, make_event
from govchain.protocol.keys import SigningKey
from tests.integration.conftest import Ledger

from .storm import (
    REJECT,
    REJECT_OR_COMMIT,
    StormMessage,
    assert_storm_survived,
    publish_all,
    read_rejections,
    wait_drained,
)

DOC = "document.registered"
HOSTILE_DEPTHS = (33, 500, 5_000, 100_000)


def _seed() -> int:
    seed = int(os.environ.get("GOVCHAIN_FUZZ_SEED", random.randrange(2**32)))
    print(f"GOVCHAIN_FUZZ_SEED={seed}")
    return seed


def _with_data_field(event: Envelope, raw_value: bytes) -> bytes:
    """The event's wire bytes with one more data field spliced in as raw JSON text."""
    return event.to_bytes().replace(b'"data":{', b'"data":{"x":' + raw_value + b",", 1)


def _deep(depth: int, rng: random.Random) -> bytes:
    opener, closer = rng.choice([(b"[", b"]"), (b'{"k":', b"}")])
    return opener * depth + b"1" + closer * depth


def hostile_singles(tax: SigningKey, rng: random.Random) -> list[StormMessage]:
    subject = subjects.event_subject("tax", DOC)
    base = make_event(tax, source="tax", type=DOC, data={"document_id": "p-0", "sha256": "0" * 64, "title": "t"})
    bodies: list[tuple[str, bytes, str | None]] = []
    for depth in HOSTILE_DEPTHS:
        for label, body in [
            (f"data nested {depth} deep", _with_data_field(base, _deep(depth, rng))),
            (f"document nested {depth} deep", _deep(depth, rng)),
        ]:
            bodies.append((label, body, "oversized" if len(body) > MAX_EVENT_BYTES else "malformed_envelope"))
    bodies += [
        ("4 MB body", b'{"id":"' + b"x" * (MAX_PAYLOAD - 64 * 1024) + b'"}', "oversized"),
        ("3.5 MB junk event", json.dumps({"id": "junk", "data": {"blob": "y" * 3_500_000}}).encode(), "oversized"),
        ("invalid UTF-8 in a string", _with_data_field(base, b'"\xff\xfe\xc0\xaf"'), "malformed_envelope"),
        ("raw surrogate bytes", _with_data_field(base, b'"\xed\xa0\x80"'), "malformed_envelope"),
        ("lone surrogate escape", _with_data_field(base, b'"\\ud800"'), "malformed_envelope"),
        ("a 100 000 digit number", _with_data_field(base, b"9" * 100_000), "malformed_envelope"),
        ("an overflowing exponent", _with_data_field(base, b"1e999999"), "malformed_envelope"),
        ("integer beyond 2**53", _with_data_field(base, b"9007199254740993"), "malformed_envelope"),
        ("NaN", _with_data_field(base, b"NaN"), "malformed_envelope"),
        ("trailing garbage", base.to_bytes() + b"}}", "malformed_envelope"),
        ("nul bytes", b"\x00" * 1024, "malformed_envelope"),
    ]
    bodies += [(f"random bytes {n}", rng.randbytes(rng.randint(1, 4096)), None) for n in range(20)]
    messages = [
        StormMessage(label, subject, body, f"poison-{n}", REJECT, reason)
        for n, (label, body, reason) in enumerate(bodies)
    ]
    # RFC 8259 lets a reader ignore a byte order mark: the event is the same event, and its
    # leaf is its canonical form, so committing it is as right as refusing it.
    bom = make_event(tax, source="tax", type=DOC, data={"document_id": "p-bom", "sha256": "1" * 64, "title": "t"})
    messages.append(
        StormMessage("byte order mark", subject, b"\xef\xbb\xbf" + bom.to_bytes(), "poison-bom", REJECT_OR_COMMIT)
    )
    return messages


def hostile_batches(tax: SigningKey, rng: random.Random) -> list[StormMessage]:
    subject = subjects.batch_subject("tax")
    events = [
        make_event(tax, source="tax", type=DOC, data={"document_id": f"pb-{n}", "sha256": f"{n:064x}", "title": "t"})
        for n in range(3)
    ]
    good = sign_batch(tax, events).to_bytes()
    bodies = [
        (
            f"batch event nested {depth} deep",
            good.replace(b'"data":{', b'"data":{"x":' + _deep(depth, rng) + b",", 1),
            "malformed_envelope",
        )
        for depth in HOSTILE_DEPTHS
    ]
    bodies += [
        ("batch nested 100 000 deep", _deep(100_000, rng), "malformed_envelope"),
        ("4 MB batch", b'{"events":["' + b"z" * (MAX_PAYLOAD - 64 * 1024) + b'"]}', "oversized"),
        ("batch with invalid UTF-8", good.replace(b'"title":"t"', b'"title":"\xff"', 1), "malformed_envelope"),
        ("batch with a lone surrogate", good.replace(b'"title":"t"', b'"title":"\\udfff"', 1), "malformed_envelope"),
    ]
    return [
        StormMessage(label, subject, body, f"poison-batch-{n}", REJECT, reason)
        for n, (label, body, reason) in enumerate(bodies)
    ]


async def test_the_worst_bytes_end_as_refusals_and_the_ledger_goes_on(ledger: Ledger) -> None:
    rng = random.Random(_seed())
    js = ledger.nc.jetstream()
    tax = await ledger.register_department("tax")
    storm = hostile_singles(tax, rng) + hostile_batches(tax, rng)
    rng.shuffle(storm)
    sent = await publish_all(js, storm)

    await assert_storm_survived(ledger, sent, ledger.document("tax", 1))


async def test_a_refusal_too_big_for_one_message_is_recorded_once(ledger: Ledger) -> None:
    js = ledger.nc.jetstream()
    junk = json.dumps({"id": "big-junk", "data": {"blob": "j" * 3_500_000}}).encode()
    ack = await js.publish(subjects.event_subject("tax", DOC), junk, headers={"Nats-Msg-Id": "big-junk"})
    await wait_drained(js)
    [record] = (await read_rejections(js))[ack.seq]
    assert record["reason"] == "oversized" and record["original_truncated"] is True
    assert record["original_size"] == len(junk)


async def test_a_message_the_orderer_fails_on_is_quarantined_and_ordering_goes_on(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of ours that judging alone cannot catch (the state reducer failing on an event)
    must not stop the ledger nor hold up the events after it."""
    await ledger.register_department("tax")
    poison_department = "poison"
    real_apply = state_module.apply_event

    def failing_apply(state: state_module.ChainState, envelope: Envelope, payload: object) -> None:
        if envelope.type == "department.registered" and envelope.data.get("department_id") == poison_department:
            raise RuntimeError("a bug in the reducer")
        real_apply(state, envelope, payload)

    monkeypatch.setattr("govchain.services.ledger.sequencer.apply_event", failing_apply)
    poison = make_event(
        ledger.root,
        source="root",
        type="department.registered",
        data={"department_id": poison_department, "name": "Poison", "public_key": SigningKey.generate().public.hex},
    )
    await ledger.client.publish(poison)
    fine = [ledger.document("tax", n) for n in range(5)]
    for event in fine:
        await ledger.client.publish(event)

    for event in fine:
        assert (await ledger.client.submit(event, timeout=30))["status"] == "committed"
    receipt = await _wait_for_receipt(ledger, poison.id, "root")
    assert receipt["status"] == "rejected" and receipt["reason"] == "internal_error", receipt
    assert "sha256" in receipt["detail"]
    assert ledger.task is not None and not ledger.task.done()
    report = await verify_chain(ledger.nc.jetstream(), genesis_hash=ledger.settings.genesis_hash)
    assert report.ok, report


async def _wait_for_receipt(ledger: Ledger, event_id: str, source: str, timeout: float = 30) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        receipt = await ledger.client.receipt(event_id, source)
        if receipt["status"] != "pending" or asyncio.get_running_loop().time() > deadline:
            return receipt
        await asyncio.sleep(0.2)
