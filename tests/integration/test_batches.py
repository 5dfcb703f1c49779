"""Batch envelopes against a real NATS server: many events signed once, each ordered, judged,
proved and verified as if it had been published alone."""

from __future__ import annotations

import base64
import json

import pytest

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.protocol.batch import EventBatch, sign_batch
from govchain.protocol.envelope import Envelope, parse_envelope
from govchain.protocol.keys import PublicKey
from govchain.protocol.proofs import inclusion_problem
from tests.conftest import BOTH_PROFILES

from .conftest import Ledger
from .test_ordering import event_ids, read_chain, wait_rejection

pytestmark = BOTH_PROFILES


def documents(ledger: Ledger, department: str, count: int, start: int = 0) -> list[Envelope]:
    return [ledger.document(department, n) for n in range(start, start + count)]


async def orderer_keys(ledger: Ledger) -> dict[str, PublicKey]:
    head = await ledger.client.head()
    key = ledger.data.signing_key("orderer").public
    assert head["header"]["orderer"] == key.key_id
    return {key.key_id: key}


@pytest.mark.parametrize("ledger", [{"batch_max_count": 40}], indirect=True)
async def test_a_batch_commits_each_event_with_its_own_proof_and_the_chain_verifies(ledger: Ledger) -> None:
    key = await ledger.register_department("tax")
    events = documents(ledger, "tax", 100)
    batch = sign_batch(key, events)

    receipts = await ledger.client.submit_batch(batch)

    assert [r["status"] for r in receipts] == ["committed"] * 100
    assert [r["event_id"] for r in receipts] == [e.id for e in events]
    # One batch of 100 is more than the 40-event block limit: it goes alone, in one block.
    assert len({r["height"] for r in receipts}) == 1
    blocks = await read_chain(ledger)
    ours = {e.id for e in events}
    assert [i for i in event_ids(blocks) if i in ours] == [e.id for e in events]
    stored = [Envelope.model_validate(event) for block in blocks for event in block.events if event["id"] in ours]
    assert all(e.signature is None and e.batchproof is not None for e in stored)
    assert all(e.has_valid_signature(key.public) for e in stored)
    trusted = await orderer_keys(ledger)
    for event in (events[0], events[57], events[-1]):
        assert inclusion_problem(await ledger.client.inclusion_proof(event.id, source=event.source), trusted) is None
    report = await verify_chain(ledger.nc.jetstream())
    assert report.ok and report.events >= 100


async def test_a_resent_batch_is_ordered_once(ledger: Ledger) -> None:
    key = await ledger.register_department("tax")
    batch = sign_batch(key, documents(ledger, "tax", 10))
    first = await ledger.client.submit_batch(batch)
    # The same batch again: within the duplicate window the server drops it ...
    assert (await ledger.client.publish_batch(batch)).duplicate
    # ... and under another message id the orderer finds every event already on chain.
    await ledger.nc.jetstream().publish(
        subjects.batch_subject("tax"), batch.to_bytes(), headers={"Nats-Msg-Id": "resent-batch"}
    )
    assert (await ledger.submit(ledger.document("tax", 99)))["status"] == "committed"

    assert await ledger.client.submit_batch(batch) == first
    ids = event_ids(await read_chain(ledger))
    assert all(ids.count(str(event["id"])) == 1 for event in batch.events)
    assert (await verify_chain(ledger.nc.jetstream())).ok


async def test_each_event_of_a_batch_is_judged_alone(ledger: Ledger) -> None:
    key = await ledger.register_department("tax")
    events = documents(ledger, "tax", 5)
    events[2] = ledger.document("tax", 2).model_copy(update={"data": {"document_id": "no-hash", "title": "T"}})
    events[3] = ledger.document("tax", 3).model_copy(update={"type": "document.shredded", "data": {}})

    receipts = await ledger.client.submit_batch(sign_batch(key, events))

    assert [r["status"] for r in receipts] == ["committed", "committed", "rejected", "rejected", "committed"]
    assert [r.get("reason") for r in receipts[2:4]] == ["invalid_payload", "unknown_type"]
    # The refusal keeps the refused event, proof included, so it can be checked on its own.
    record = await wait_rejection(ledger, "tax", events[2].id)
    kept = parse_envelope(base64.b64decode(record["original_b64"]))
    assert kept.id == events[2].id and kept.has_valid_signature(key.public)


async def test_a_tampered_batch_commits_nothing(ledger: Ledger) -> None:
    key = await ledger.register_department("tax")
    batch = sign_batch(key, documents(ledger, "tax", 4))
    wire = json.loads(batch.to_bytes())
    wire["events"][1]["data"]["title"] = "Altered after signing"
    tampered = EventBatch.model_validate(wire)

    receipts = await ledger.client.submit_batch(tampered)

    assert [(r["status"], r["reason"]) for r in receipts] == [("rejected", "bad_signature")] * 4
    assert not set(event_ids(await read_chain(ledger))) & {str(e["id"]) for e in batch.events}


async def test_a_batch_that_cannot_be_opened_is_refused_whole_and_kept(ledger: Ledger) -> None:
    tax = await ledger.register_department("tax")
    await ledger.register_department("land")
    # Published on another department's subject: refused as a whole, under the batch's id.
    borrowed = sign_batch(tax, documents(ledger, "tax", 3))
    js = ledger.nc.jetstream()
    await js.publish(subjects.batch_subject("land"), borrowed.to_bytes(), headers={"Nats-Msg-Id": borrowed.msg_id})
    refusal = await wait_rejection(ledger, "land", borrowed.msg_id)
    assert refusal["reason"] == "subject_mismatch"
    assert base64.b64decode(refusal["original_b64"]) == borrowed.to_bytes()
    # Garbage on a batch subject likewise.
    await js.publish(subjects.batch_subject("tax"), b"[not a batch", headers={"Nats-Msg-Id": "garbage-batch"})
    garbage = await wait_rejection(ledger, "tax", "garbage-batch")
    assert garbage["reason"] == "malformed_envelope"
    # submit_batch reports the whole-batch refusal for each event.
    receipts = await ledger.client.submit_batch(
        sign_batch(tax, [ledger.document("tax", 7)]).model_copy(update={"source": "land"})
    )
    assert [(r["status"], r["reason"], r["batch_id"]) for r in receipts] == [
        ("rejected", "subject_mismatch", receipts[0]["batch_id"])
    ]
    # The orderer went on, and none of it reached the chain.
    assert (await ledger.submit(ledger.document("tax", 9)))["status"] == "committed"
    assert not set(event_ids(await read_chain(ledger))) & {str(e["id"]) for e in borrowed.events}
