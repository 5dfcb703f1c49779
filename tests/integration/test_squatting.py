"""Nobody can have another department's event dropped or refused by claiming its id first.

JetStream de-duplicates by ``Nats-Msg-Id``, stream-wide, and NATS permissions cannot
restrict a header. The SDK derives the header from the signed bytes, so a header someone
else chose ahead of time never matches a genuine event's.
"""

from __future__ import annotations

import pytest

from govchain.bus import subjects
from govchain.client import LedgerQueryError
from govchain.protocol.envelope import event_msg_id, make_event
from govchain.protocol.keys import SigningKey

from .conftest import Ledger


async def test_a_header_chosen_by_another_publisher_does_not_drop_a_genuine_event(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    await ledger.register_department("rogue")
    genuine = ledger.document("tax", 1)
    js = ledger.nc.jetstream()
    # The rogue department, on its own subject (which its NATS user may use), claims the id.
    for header in (genuine.id, f"{genuine.id}-2", "tax-doc-X"):
        await js.publish(subjects.event_subject("rogue", "document.registered"), b"{}", headers={"Nats-Msg-Id": header})
    receipt = await ledger.submit(genuine)
    assert receipt["status"] == "committed", receipt


async def test_a_forged_event_under_a_departments_id_does_not_spoil_its_genuine_event(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    genuine = ledger.document("tax", 2)
    forged = make_event(
        SigningKey.generate(),
        source="tax",
        type="document.registered",
        event_id=genuine.id,
        data={"document_id": "forged", "sha256": "f" * 64, "title": "Forged"},
    )
    forged_receipt = await ledger.submit(forged)
    assert forged_receipt["status"] == "rejected" and forged_receipt["reason"] == "unknown_key"
    receipt = await ledger.submit(genuine)
    assert receipt["status"] == "committed", receipt  # not swallowed as a duplicate of the forgery


async def test_an_identical_re_send_is_still_de_duplicated(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    event = ledger.document("tax", 3)
    first = await ledger.client.publish(event)
    again = await ledger.client.publish(event)
    assert again.duplicate and again.seq == first.seq
    assert event.msg_id == event_msg_id(event.to_bytes()) != event.id


async def test_an_id_another_department_took_first_leaves_the_genuine_event_its_own(ledger: Ledger) -> None:
    """Ids are per source (CloudEvents): the rogue's event under tax's id is its own event."""
    await ledger.register_department("tax")
    rogue_key = await ledger.register_department("rogue")
    genuine = ledger.document("tax", 4)
    squatter = make_event(
        rogue_key,
        source="rogue",
        type="document.registered",
        event_id=genuine.id,
        data={"document_id": "squat", "sha256": "e" * 64, "title": "Squatted"},
    )
    assert (await ledger.submit(squatter))["status"] == "committed"
    receipt = await ledger.submit(genuine)
    assert receipt["status"] == "committed" and receipt["source"] == "tax", receipt

    with pytest.raises(LedgerQueryError) as ambiguous:
        await ledger.client.inclusion_proof(genuine.id)
    assert ambiguous.value.code == "ambiguous_id" and "rogue, tax" in str(ambiguous.value)
    proofs = {source: await ledger.client.inclusion_proof(genuine.id, source=source) for source in ("tax", "rogue")}
    assert proofs["tax"]["leaf_hash"] == receipt["leaf_hash"] != proofs["rogue"]["leaf_hash"]
    assert {p["source"] for p in proofs.values()} == {"tax", "rogue"}

    conflicting = make_event(
        ledger.department_keys["tax"],
        source="tax",
        type="document.registered",
        event_id=genuine.id,
        data={**genuine.data, "title": "Another title, same id"},
    )
    refused = await ledger.submit(conflicting)
    assert (refused["status"], refused["reason"]) == ("rejected", "conflicting_id")
