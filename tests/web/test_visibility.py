"""The gateway's visibility rule, its signer check and its links, without a platform: pure functions."""

from __future__ import annotations

import json

import pytest

from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.state import KeyRecord, Principal
from govchain.services.gateway.context import candidate_sources
from govchain.services.gateway.portal import event_href, ref_href
from govchain.services.gateway.sessions import Sessions
from govchain.services.gateway.signers import key_state, session_viewer, signer_refusal
from govchain.services.gateway.visibility import HIDDEN_DATA_FIELDS, REDACTED, public_error, public_view, shown_to
from govchain.services.registry.access import Viewer

OWNER = "c-" + "1a" * 16
BUYER = "c-" + "2b" * 16


def transfer(key: SigningKey) -> dict[str, object]:
    return make_event(
        key,
        source="land-bureau",
        type="land.transferred",
        data={
            "transfer_id": "T-1",
            "parcel_id": "P-1",
            "from_owner": OWNER,
            "to_owner": BUYER,
            "consideration": "10.00",
            "to_owner_details": {"enc": "aes-256-gcm", "subject": BUYER, "key_version": 1, "nonce": "n", "ct": "c"},
        },
    ).to_dict()


def test_the_hidden_fields_are_the_registrys_non_public_ones() -> None:
    assert {"owner", "from_owner", "to_owner", "owner_details"} <= HIDDEN_DATA_FIELDS
    assert not {"parcel_id", "name", "consideration", "transfer_id"} & HIDDEN_DATA_FIELDS


def test_the_public_sees_no_pseudonym_of_a_transfer_and_is_told_what_was_hidden() -> None:
    event = transfer(SigningKey.generate())
    shown = shown_to(Viewer(), {"event": event, "receipt": {"source": "land-bureau", "event_id": event["id"]}})
    text = json.dumps(shown)
    assert OWNER not in text and BUYER not in text
    assert shown["event"]["data"]["from_owner"] == REDACTED and shown["event"]["data"]["to_owner_details"] == REDACTED
    assert shown["event"]["data"]["parcel_id"] == "P-1" and shown["event"]["signature"] == event["signature"]
    assert sorted(shown["redacted_fields"]) == [
        "event.data.from_owner",
        "event.data.to_owner",
        "event.data.to_owner_details",
    ]
    assert shown["visibility"] == "public"
    assert event["data"]["from_owner"] == OWNER  # the full record is left as it was


def test_officers_and_auditors_see_everything_citizens_do_not() -> None:
    event = transfer(SigningKey.generate())
    officer = shown_to(Viewer("land-clerk", "official", "land-bureau"), {"event": event})
    assert officer["event"] == event and officer["redacted_fields"] == [] and officer["visibility"] == "officer"
    auditor = shown_to(Viewer("audit-1", "citizen", None, auditor=True), {"event": event})
    assert auditor["event"] == event
    citizen = shown_to(Viewer(OWNER, "citizen"), {"event": event})
    assert OWNER not in json.dumps(citizen) and citizen["visibility"] == "citizen"


def test_an_event_a_citizen_signed_hides_its_source_and_signer_and_any_pseudonym_inside() -> None:
    key = SigningKey.generate()
    applied = make_event(
        key,
        source=OWNER,
        type="license.applied",
        subject=f"did:govchain:{OWNER}",
        data={
            "application_id": "A-1",
            "applicant": OWNER,
            "business_id": "B-1",
            "kind": "food",
            "documents": [f"note about {BUYER}"],
        },
    ).to_dict()
    shown, redacted = public_view({"events": [applied]})
    assert OWNER not in json.dumps(shown) and BUYER not in json.dumps(shown) and key.key_id not in json.dumps(shown)
    assert set(redacted) == {
        "events.0.source",
        "events.0.signer",
        "events.0.subject",
        "events.0.data.applicant",
        "events.0.data.documents",
    }
    assert shown["events"][0]["data"]["business_id"] == "B-1"


def test_strings_that_only_look_alike_are_left_alone() -> None:
    for value in ("c-" + "1a" * 15, "abc-" + "1a" * 16, "c-" + "1a" * 17, "C-" + "1A" * 16, "land-bureau"):
        assert public_view({"source": value}) == ({"source": value}, [])


def test_an_ambiguous_ids_error_hides_a_citizens_source() -> None:
    message = f"id x is used by several sources ({OWNER}, land-bureau); name the source"
    assert candidate_sources(message) == [OWNER, "land-bureau"]
    assert candidate_sources("no list here") == []
    shown = public_error(
        {"code": "ambiguous_id", "message": message, "event_id": "x", "sources": candidate_sources(message)}
    )
    assert shown["sources"] == [REDACTED, "land-bureau"] and OWNER not in json.dumps(shown)
    assert shown["code"] == "ambiguous_id" and "[redacted]" in shown["message"]


def test_links_name_the_source_but_never_a_citizen() -> None:
    assert event_href("land-bureau", "e-1") == "/events/land-bureau/e-1"
    assert event_href(OWNER, "e-1") == "/events/e-1"
    assert event_href(REDACTED, "e-1") == "/events/e-1"
    assert ref_href("tax/e-2") == "/events/tax/e-2" and ref_href("e-3") == "/events/e-3"
    assert ref_href(f"{OWNER}/e-4") == "/events/e-4" and ref_href("not a ref") == "/"


def key_answer(key: SigningKey, owner: Principal, *, revoked_height: int | None = None, height: int = 7) -> dict:
    record = KeyRecord(
        key.public,
        owner.id,
        revoked_height=revoked_height,
        revocation_reason=None if revoked_height is None else "lost",
    )
    return {"key_id": key.key_id, "key": record.to_json(), "owner": owner.to_json(), "as_of_height": height}


def test_the_signer_check_gives_the_orderers_reasons() -> None:
    land, clerk_key, stranger = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()
    department = Principal("land-bureau", "department", "Land", department="land-bureau")
    clerk = Principal("land-clerk", "official", "Clerk", department="land-bureau")
    event = make_event(
        land,
        source="land-bureau",
        type="document.registered",
        data={"document_id": "d", "sha256": "ab" * 32, "title": "t"},
    )
    assert signer_refusal(key_state(key_answer(land, department), "c"), event) is None
    by_clerk = make_event(clerk_key, source="land-bureau", type="document.registered", data=event.data)
    assert signer_refusal(key_state(key_answer(clerk_key, clerk), "c"), by_clerk) is None

    def reason(state_answer: dict, envelope: object) -> str:
        refusal = signer_refusal(key_state(state_answer, "c"), envelope)  # type: ignore[arg-type]
        assert refusal is not None
        return refusal.reason.value

    unknown = {"key_id": stranger.key_id, "key": None, "owner": None, "as_of_height": 7}
    assert (
        reason(unknown, make_event(stranger, source="land-bureau", type=event.type, data=event.data)) == "unknown_key"
    )
    forged = event.model_copy(update={"data": {**event.data, "title": "forged"}})
    assert reason(key_answer(land, department), forged) == "bad_signature"
    other = Principal("tax", "department", "Tax", department="tax")
    assert reason(key_answer(land, other), event) == "signer_not_of_source"
    assert reason(key_answer(land, department, revoked_height=3), event) == "key_revoked"


def test_a_session_names_its_key_and_sees_as_an_officer_only_while_that_key_is_usable() -> None:
    sessions = Sessions(b"k" * 32)
    key = SigningKey.generate()
    token, issued = sessions.issue("land-clerk", key.key_id)
    assert sessions.session(token) == issued and issued.key_id == key.key_id
    clerk = Principal("land-clerk", "official", "Clerk", department="land-bureau")
    assert session_viewer(key_state(key_answer(key, clerk), "c"), "land-clerk", key.key_id).sees_internal()
    revoked = key_state(key_answer(key, clerk, revoked_height=5), "c")
    assert session_viewer(revoked, "land-clerk", key.key_id) == Viewer()
    assert session_viewer(key_state(key_answer(key, clerk), "c"), "someone-else", key.key_id) == Viewer()


@pytest.mark.parametrize("level", ["owner", "owner_details"])
def test_a_business_registration_hides_its_owner(level: str) -> None:
    event = make_event(
        SigningKey.generate(),
        source="market-regulator",
        type="business.registered",
        data={
            "business_id": "B-1",
            "name": "Noodles",
            "registration_no": "1",
            "address": "a",
            "activity": "b",
            "owner": OWNER,
            "owner_details": {"enc": "aes-256-gcm", "subject": OWNER, "key_version": 1, "nonce": "n", "ct": "c"},
        },
    ).to_dict()
    shown, redacted = public_view(event)
    assert shown["data"][level] == REDACTED and f"data.{level}" in redacted and OWNER not in json.dumps(shown)
