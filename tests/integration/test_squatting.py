"""Nobody can have another department's event dropped or refused by claiming its id first.

JetStream de-duplicates by ``Nats-Msg-Id``, stream-wide, and NATS permissions cannot
restrict a header. The SDK derives the header from the signed bytes, so a header someone
else chose ahead of time never matches a genuine event's.
"""

from __future__ import annotations

from govchain.bus import subjects
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
        await js.publish(subjects.event_subject("rogue", "document.registered"), b"{}",
                         headers={"Nats-Msg-Id": header})
    receipt = await ledger.submit(genuine)
    assert receipt["status"] == "committed", receipt


async def test_a_forged_event_under_a_departments_id_does_not_spoil_its_genuine_event(ledger: Ledger) -> None:
    await ledger.register_department("tax")
    genuine = ledger.document("tax", 2)
    forged = make_event(SigningKey.generate(), source="tax", type="document.registered", event_id=genuine.id,
                        data={"document_id": "forged", "sha256": "f" * 64, "title": "Forged"})
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
