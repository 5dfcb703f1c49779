"""The orderer against a real NATS server: batching, de-duplication, rejections with reasons."""

from __future__ import annotations

import asyncio
import json

import pytest

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks, last_height
from govchain.protocol.block import Block
from govchain.protocol.envelope import make_event
from tests.conftest import BOTH_PROFILES

from .conftest import Ledger

pytestmark = BOTH_PROFILES


async def read_chain(ledger: Ledger) -> list[Block]:
    js = ledger.nc.jetstream()
    newest = await last_height(js)
    return [Block.from_bytes(raw) async for _, raw in follow_blocks(js, 0, to_height=newest)]


def event_ids(blocks: list[Block]) -> list[str]:
    return [event["id"] for block in blocks for event in block.events]


@pytest.mark.parametrize("ledger", [{"batch_max_count": 10, "batch_max_wait_ms": 300}], indirect=True)
async def test_events_are_ordered_in_publish_order_and_cut_at_the_count_limit(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    documents = [ledger.document("tax", n) for n in range(35)]
    for envelope in documents:
        await ledger.client.publish(envelope)
    receipts = [await ledger.client.wait_receipt(e.id, "tax") for e in documents]

    assert all(r["status"] == "committed" for r in receipts)
    blocks = await read_chain(ledger)
    assert all(block.header.event_count <= 10 for block in blocks)
    assert any(block.header.event_count == 10 for block in blocks), "count limit never cut a full block"
    ordered = [i for i in event_ids(blocks) if i in {e.id for e in documents}]
    assert ordered == [e.id for e in documents]
    leaf_indices = [r["leaf_index"] for r in receipts]
    assert leaf_indices == sorted(leaf_indices) and len(set(leaf_indices)) == len(leaf_indices)


@pytest.mark.parametrize("ledger", [{"batch_max_count": 1000, "batch_max_wait_ms": 400}], indirect=True)
async def test_the_timer_cuts_a_partial_batch_into_one_block(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    documents = [ledger.document("tax", n) for n in range(5)]
    await asyncio.gather(*(ledger.client.publish(e) for e in documents))
    receipts = [await ledger.client.wait_receipt(e.id, "tax") for e in documents]
    assert {r["height"] for r in receipts} == {receipts[0]["height"]}


async def test_a_resent_event_is_ordered_once(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    envelope = ledger.document("tax", 1)
    first = await ledger.submit(envelope)
    # Within JetStream's duplicate window the server drops the copy ...
    ack = await ledger.client.publish(envelope)
    assert ack.duplicate
    # ... and after it (a different message id) the orderer recognises the event itself.
    await ledger.nc.jetstream().publish(
        subjects.event_subject("tax", envelope.type),
        envelope.to_bytes(),
        headers={"Nats-Msg-Id": "resent-after-window"},
    )
    marker = await ledger.submit(ledger.document("tax", 2))  # ordered after the copies
    assert marker["status"] == "committed"

    assert await ledger.client.receipt(envelope.id, "tax") == first
    assert event_ids(await read_chain(ledger)).count(envelope.id) == 1
    assert (await verify_chain(ledger.nc.jetstream())).ok


async def test_another_event_under_a_used_id_is_rejected(ledger: Ledger) -> None:
    key = await ledger.register_department("tax")
    original = ledger.document("tax", 1)
    await ledger.submit(original)
    impostor = make_event(
        key,
        source="tax",
        type="document.registered",
        event_id=original.id,
        data={"document_id": "other", "sha256": "f" * 64, "title": "Other"},
    )
    await ledger.nc.jetstream().publish(
        subjects.event_subject("tax", impostor.type), impostor.to_bytes(), headers={"Nats-Msg-Id": "x-1"}
    )
    rejection = await wait_rejection(ledger, "tax", original.id)
    assert rejection["reason"] == "conflicting_id"
    assert (await ledger.client.receipt(original.id, "tax"))["status"] == "committed"


async def wait_rejection(ledger: Ledger, source: str, event_id: str) -> dict[str, object]:
    js = ledger.nc.jetstream()
    for _ in range(200):
        try:
            msg = await js.get_last_msg(subjects.REJECTED_STREAM, subjects.rejected_subject(source, event_id))
        except Exception:
            await asyncio.sleep(0.05)
            continue
        return dict(json.loads(msg.data))
    raise AssertionError(f"no rejection recorded for {event_id}")


async def test_bad_events_are_rejected_with_reasons_and_nothing_is_lost(ledger: Ledger) -> None:
    key = await ledger.register_department("tax")
    await ledger.register_department("land")
    good = ledger.document("tax", 1)
    forged = good.model_copy(update={"data": {**good.data, "title": "Altered"}})
    stranger = make_event(
        ledger.new_key(),
        source="tax",
        type="document.registered",
        data={"document_id": "s", "sha256": "1" * 64, "title": "Stranger"},
    )
    invalid = make_event(key, source="tax", type="document.registered", data={"document_id": "no-hash", "title": "T"})
    unknown = make_event(key, source="tax", type="document.shredded", data={})
    borrowed = make_event(
        key,
        source="land",
        type="document.registered",
        data={"document_id": "b", "sha256": "2" * 64, "title": "Borrowed key"},
    )
    expected = {
        forged.id: "bad_signature",
        stranger.id: "unknown_key",
        invalid.id: "invalid_payload",
        unknown.id: "unknown_type",
        borrowed.id: "signer_not_of_source",
    }
    for envelope in (forged, stranger, invalid, unknown, borrowed):
        receipt = await ledger.submit(envelope)
        assert receipt["status"] == "rejected"
        assert receipt["reason"] == expected[envelope.id], receipt
        assert receipt["detail"]

    # Garbage and a subject that lies about the source are refused too, with the original kept.
    js = ledger.nc.jetstream()
    await js.publish("gov.events.tax.document.registered", b"\xff not json", headers={"Nats-Msg-Id": "garbage-1"})
    await js.publish(subjects.event_subject("land", good.type), good.to_bytes(), headers={"Nats-Msg-Id": "lie-1"})
    garbage = await wait_rejection(ledger, "tax", "garbage-1")
    assert garbage["reason"] == "malformed_envelope"
    assert garbage["original_b64"] == "/yBub3QganNvbg=="
    lie = await wait_rejection(ledger, "land", good.id)
    assert lie["reason"] == "subject_mismatch"

    # None of them reached the chain, and the orderer kept going.
    assert (await ledger.submit(ledger.document("tax", 9)))["status"] == "committed"
    on_chain = set(event_ids(await read_chain(ledger)))
    assert not on_chain & set(expected)
    assert good.id not in on_chain
