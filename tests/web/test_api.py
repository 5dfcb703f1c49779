"""The HTTP API against a real platform: each endpoint's success and error cases."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from govchain.bus import subjects
from govchain.datadir import DataDir
from govchain.protocol.batch import sign_batch
from govchain.protocol.credentials import add_proof, make_credential
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym
from govchain.services.cli.demo import DEMO_BUYER_NATIONAL_ID

from ._signin import sign_in
from .conftest import Platform


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.url, timeout=60) as client:
        yield client


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_openapi_documents_every_group(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    tags = {tag for path in spec["paths"].values() for op in path.values() for tag in op.get("tags", [])}
    assert {"chain", "submit", "registry", "me"} <= tags


def test_the_api_docs_page_needs_no_other_host(api: httpx.Client) -> None:
    """On an intranet /docs must work: every script, style and icon it loads is the gateway's."""
    page = api.get("/docs")
    assert page.status_code == 200
    loaded = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    urls = {u for pair in loaded for u in pair if u}
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert not re.search(r"https?://", page.text.replace("http://www.w3.org", ""))
    for url in urls:
        assert api.get(url).status_code == 200, url
    assert "SwaggerUIBundle" in api.get("/docs-assets/swagger-ui-bundle.js").text


def test_blocks_and_events_with_checked_proofs(api: httpx.Client, platform: Platform) -> None:
    head = api.get("/api/v1/chain/head").json()
    assert head["header"]["height"] == platform.summary["blocks"] - 1
    listing = api.get("/api/v1/blocks", params={"limit": 5}).json()
    assert [b["height"] for b in listing["blocks"]] == list(range(listing["newest"], listing["newest"] - 5, -1))
    genesis = api.get("/api/v1/blocks/0").json()
    assert genesis["events"][0]["type"] == "chain.genesis"
    assert error_code(api.get("/api/v1/blocks/99999")) == "not_found"

    event_id = platform.summary["committed_event_ids"][5]
    found = api.get(f"/api/v1/events/{event_id}").json()
    assert found["event"]["id"] == event_id and found["proof_verified"] is True
    source = found["event"]["source"]
    assert found["receipt"]["source"] == source
    assert api.get(f"/api/v1/events/{source}/{event_id}").json() == found
    proof = api.get(f"/api/v1/events/{source}/{event_id}/proof", params={"at_height": head["header"]["height"]}).json()
    assert proof["verified"] is True and proof["tree_size"] == head["header"]["log_size"]
    assert error_code(api.get("/api/v1/events/not-an-event")) == "not_found"
    assert error_code(api.get(f"/api/v1/events/no-such-source/{event_id}")) == "not_found"
    assert api.get("/api/v1/events/bad%20id").status_code == 400
    assert error_code(api.get(f"/api/v1/events/Not_A_Source/{event_id}")) == "bad_request"
    consistency = api.get("/api/v1/consistency", params={"first": 2, "second": head["header"]["height"]}).json()
    assert consistency["verified"] is True
    assert error_code(api.get("/api/v1/consistency", params={"first": 5, "second": 2})) == "bad_request"
    assert error_code(api.get("/api/v1/consistency", params={"first": "x", "second": 2})) == "bad_request"


def test_submitting_signed_events(api: httpx.Client, platform: Platform) -> None:
    data = DataDir(platform.data)
    key = data.signing_key("land-bureau")
    good = make_event(
        key,
        source="land-bureau",
        type="document.registered",
        data={"document_id": "api-1", "sha256": "ee" * 32, "title": "Submitted over HTTP"},
    )
    created = api.post("/api/v1/events", json=good.to_dict())
    assert created.status_code == 201 and created.json()["status"] == "committed"
    forged = good.model_copy(update={"id": "api-2", "data": {**good.data, "title": "forged"}})
    refused = api.post("/api/v1/events", json=forged.to_dict())
    assert refused.status_code == 422 and error_code(refused) == "bad_signature"
    malformed = api.post("/api/v1/events", json={"id": "x"})
    assert malformed.status_code == 400 and error_code(malformed) == "malformed_envelope"
    status = api.get("/api/v1/applications/business-license/APP-0001").json()
    assert status["state"] == "issued"
    assert error_code(api.get("/api/v1/applications/business-license/NOPE")) == "not_found"


def test_submitting_a_batch_envelope(api: httpx.Client, platform: Platform) -> None:
    key = DataDir(platform.data).signing_key("land-bureau")
    events = [
        make_event(
            key,
            source="land-bureau",
            type="document.registered",
            data={"document_id": f"api-batch-{n}", "sha256": f"{0xBA7C4 + n:064x}", "title": f"Batch {n}"},
        )
        for n in range(3)
    ]
    batch = sign_batch(key, events)
    answer = api.post("/api/v1/events/batch", json=batch.model_dump())
    assert answer.status_code == 200, answer.text
    assert answer.json()["batch_id"] == batch.msg_id
    assert [(r["event_id"], r["status"]) for r in answer.json()["receipts"]] == [(e.id, "committed") for e in events]
    found = api.get(f"/api/v1/events/{events[1].id}").json()
    assert found["proof_verified"] is True and found["event"]["batchproof"]["size"] == 3

    refused_whole = api.post(
        "/api/v1/events/batch",
        json={**sign_batch(key, [events[0].model_copy(update={"id": "api-batch-x"})]).model_dump(), "source": "tax"},
    )
    assert refused_whole.status_code == 400 and error_code(refused_whole) == "subject_mismatch"
    assert error_code(api.post("/api/v1/events/batch", json={"events": []})) == "malformed_envelope"


def test_public_registry_documents_and_credentials(api: httpx.Client, platform: Platform) -> None:
    found = api.get("/api/v1/registry/businesses", params={"q": "noodle"}).json()
    assert [b["business_id"] for b in found["records"]] == ["B-0001"]
    business = api.get("/api/v1/registry/businesses/B-0001").json()
    assert business["visibility"] == "public" and "owner" not in business["record"]
    assert error_code(api.get("/api/v1/registry/businesses/B-404")) == "not_found"
    personal = api.get("/api/v1/registry/businesses/B-0001", params={"purpose": "curious"})
    assert personal.status_code == 403 and error_code(personal) == "forbidden"
    parcel = api.get("/api/v1/registry/parcels/P-0001").json()
    assert [tx["transfer_id"] for tx in parcel["history"]] == ["T-0001", "T-REQ-0001"]
    assert {d["department_id"] for d in api.get("/api/v1/registry/departments").json()["departments"]} == {
        "land-bureau",
        "market-regulator",
    }
    assert api.get("/api/v1/registry/catalog").json()["datasets"] == []

    document = b"market-regulator document 0"
    digest = hashlib.sha256(document).hexdigest()
    assert api.get(f"/api/v1/documents/{digest}").json()["registered"] is True
    uploaded = api.post("/api/v1/documents/verify", files={"file": ("doc.txt", document)}).json()
    assert uploaded["sha256"] == digest and uploaded["registered"] is True
    assert api.get(f"/api/v1/documents/{'0' * 64}").json()["registered"] is False
    assert error_code(api.get("/api/v1/documents/not-a-hash")) == "bad_request"

    key = DataDir(platform.data).signing_key("market-regulator")
    credential = add_proof(
        make_credential(did_for("market-regulator"), {"id": "did:govchain:c-x"}, ["Test"]),
        key,
        verification_method_id("market-regulator", key.key_id),
    )
    assert api.post("/api/v1/credentials/verify", json=credential).json()["valid"] is True
    credential["credentialSubject"]["id"] = "did:govchain:c-y"
    verdict = api.post("/api/v1/credentials/verify", json=credential).json()
    assert verdict == {**verdict, "valid": False, "reason": "signature does not verify"}


def test_signing_in_and_seeing_ones_own_data_and_access_log(api: httpx.Client, platform: Platform) -> None:
    data = DataDir(platform.data)
    buyer = pseudonym(DEMO_BUYER_NATIONAL_ID, data.pseudonym_key(), suite=data.crypto_suite())
    headers = sign_in(api, buyer, SigningKey.load(data.key_file("buyer")))
    log = api.get("/api/v1/me/access-log", headers=headers).json()
    assert [(e["reader"], e["purpose"]) for e in log["entries"]] == [("land-registrar", "verify the transfer deed")]
    me = api.get("/api/v1/me", headers=headers).json()
    assert me["didDocument"]["id"] == f"did:govchain:{buyer}"

    owner = platform.summary["citizen_id"]
    owner_headers = sign_in(api, owner, SigningKey.load(data.key_file("citizen")))
    own = api.get("/api/v1/registry/businesses/B-0001", headers=owner_headers).json()
    assert own["personal"]["owner_details"] == {"legal_name": "Li Ming", "phone": "+86 138 0000 0000"}

    assert error_code(api.get("/api/v1/me/access-log")) == "unauthenticated"
    assert error_code(api.get("/api/v1/me", headers={"Authorization": "Bearer forged.token"})) == "unauthenticated"
    challenge = api.post("/api/v1/auth/challenge").json()["challenge"]
    stranger = SigningKey.generate()
    wrong_key = api.post(
        "/api/v1/auth/session",
        json={
            "principal": buyer,
            "key_id": stranger.key_id,
            "challenge": challenge,
            "signature": stranger.sign(challenge.encode()).hex(),
        },
    )
    assert wrong_key.status_code == 401
    key = SigningKey.load(data.key_file("buyer"))
    body = {"principal": buyer, "key_id": key.key_id, "challenge": challenge, "signature": key.sign(b"other").hex()}
    assert api.post("/api/v1/auth/session", json=body).status_code == 401
    body["signature"] = key.sign(challenge.encode()).hex()
    assert api.post("/api/v1/auth/session", json=body).status_code == 200
    assert error_code(api.post("/api/v1/auth/session", json=body)) == "replayed"  # a challenge is used once


def test_public_endpoints_are_rate_limited_per_client(platform: Platform) -> None:
    """The platform runs with 60/minute behind a trusted proxy that names the client."""

    def client(address: str) -> httpx.Client:
        return httpx.Client(base_url=platform.url, timeout=30, headers={"X-Forwarded-For": address})

    with client("203.0.113.9") as busy, client("203.0.113.10") as other:
        statuses = [busy.get("/api/v1/registry/departments").status_code for _ in range(65)]
        assert statuses[:60] == [200] * 60 and statuses[60:] == [429] * 5
        refusal = busy.get("/api/v1/registry/departments")
        assert error_code(refusal) == "rate_limited" and refusal.headers["Retry-After"] == "60"
        assert other.get("/api/v1/registry/departments").status_code == 200


# -- who may see what, and the limits on everything open to the network


def from_address(platform: Platform, address: str) -> httpx.Client:
    """A client the trusted proxy names by ``address``: its own rate-limit budget."""
    return httpx.Client(base_url=platform.url, timeout=60, headers={"X-Forwarded-For": address})


def register_official(api: httpx.Client, platform: Platform, official_id: str, department: str) -> SigningKey:
    """The department registers an official over HTTP; the official's key is returned."""
    key = SigningKey.generate()
    event = make_event(
        DataDir(platform.data).signing_key(department),
        source=department,
        type="official.registered",
        data={
            "official_id": official_id,
            "department_id": department,
            "name": official_id,
            "public_key": key.public.hex,
        },
    )
    answer = api.post("/api/v1/events", json=event.to_dict())
    assert answer.status_code == 201, answer.text
    return key


def test_an_official_signs_in_reads_with_a_purpose_and_the_citizen_sees_it(platform: Platform) -> None:
    data = DataDir(platform.data)
    purpose = "check the owner before a licence renewal"
    with from_address(platform, "198.51.100.30") as api:
        clerk = register_official(api, platform, "market-clerk", "market-regulator")
        official = sign_in(api, "market-clerk", clerk)
        without = api.get("/api/v1/registry/businesses/B-0001", params={"purpose": ""}, headers=official)
        assert without.status_code == 400 and error_code(without) == "purpose_required"
        read = api.get("/api/v1/registry/businesses/B-0001", params={"purpose": purpose}, headers=official)
        assert read.status_code == 200, read.text
        assert read.json()["personal"]["owner_details"] == {"legal_name": "Li Ming", "phone": "+86 138 0000 0000"}
        # An official of another department may not read what market-regulator holds, purpose or not.
        registrar = sign_in(api, "land-registrar", SigningKey.load(data.key_file("land-registrar")))
        other = api.get("/api/v1/registry/businesses/B-0001", params={"purpose": purpose}, headers=registrar)
        assert other.status_code == 403 and error_code(other) == "forbidden"

        citizen = sign_in(api, platform.summary["citizen_id"], SigningKey.load(data.key_file("citizen")))
        log = api.get("/api/v1/me/access-log", headers=citizen).json()
        officials_reads = [
            (e["reader"], e["purpose"], e["record"]) for e in log["entries"] if e["reader"] == "market-clerk"
        ]
        assert officials_reads == [("market-clerk", purpose, "business.registered/B-0001")]
        # The demo's read of the business register under a data-sharing grant is listed too.
        assert any(e["record"].startswith("dataset/registered-businesses") for e in log["entries"])
        # /me/access-log is always the caller's own: the official's shows no one reading theirs.
        own = api.get("/api/v1/me/access-log", headers=official).json()
        assert own["subject"] == "market-clerk" and own["entries"] == []


def test_application_details_only_to_parties_and_involved_officers(platform: Platform) -> None:
    data = DataDir(platform.data)
    secret = ("from_owner", "to_owner", "consideration")
    with from_address(platform, "198.51.100.40") as api:
        public = api.get("/api/v1/applications/land-transfer/REQ-0001")
        assert public.status_code == 200
        shown = public.json()
        assert shown["state"] == "recorded" and shown["visibility"] == "public"
        assert "vars" not in shown and "results" not in shown and not any(s in public.text for s in secret)
        assert [step["state"] for step in shown["history"]][-1] == "recorded"
        assert set(shown["history"][0]) == {"height", "step", "state"}

        owner = platform.summary["citizen_id"]  # the case's to_owner
        party = api.get(
            "/api/v1/applications/land-transfer/REQ-0001",
            headers=sign_in(api, owner, SigningKey.load(data.key_file("citizen"))),
        ).json()
        assert party["visibility"] == "party" and party["vars"]["to_owner"] == owner
        assert party["vars"]["consideration"] == "1900000.00" and party["results"]

        officer = api.get(
            "/api/v1/applications/land-transfer/REQ-0001",
            headers=sign_in(api, "land-registrar", SigningKey.load(data.key_file("land-registrar"))),
        ).json()
        assert officer["visibility"] == "officer" and "from_owner" in officer["vars"]

        # Signed in, but neither a party nor from a department the case involves: public view.
        stranger_key = SigningKey.generate()
        stranger_id = pseudonym("110101199001019999", data.pseudonym_key(), suite=data.crypto_suite())
        enrolled = make_event(
            data.signing_key("market-regulator"),
            source="market-regulator",
            type="citizen.enrolled",
            data={"citizen_id": stranger_id, "public_key": stranger_key.public.hex},
        )
        assert api.post("/api/v1/events", json=enrolled.to_dict()).status_code == 201
        stranger = api.get(
            "/api/v1/applications/land-transfer/REQ-0001", headers=sign_in(api, stranger_id, stranger_key)
        )
        assert stranger.json()["visibility"] == "public" and not any(s in stranger.text for s in secret)

        # The applicant of a licence is a party through the event they signed.
        licence = api.get(
            "/api/v1/applications/business-license/APP-0001",
            headers=sign_in(api, owner, SigningKey.load(data.key_file("citizen"))),
        ).json()
        assert licence["visibility"] == "party" and licence["results"][0]["type"] == "license.issued"
        assert error_code(api.get("/api/v1/applications/land-transfer/" + "x" * 200)) == "bad_request"


def test_submitting_is_rate_limited_per_client_with_a_reason(platform: Platform) -> None:
    from .conftest import SUBMIT_LIMIT

    allowed = int(SUBMIT_LIMIT.split("/")[0])
    with from_address(platform, "203.0.113.50") as busy, from_address(platform, "203.0.113.51") as other:
        statuses = [busy.post("/api/v1/events", json={"id": f"limit-{i}"}).status_code for i in range(allowed + 2)]
        assert statuses[:allowed] == [400] * allowed and statuses[allowed:] == [429, 429]
        refusal = busy.post("/api/v1/events", json={"id": "x"})
        assert refusal.status_code == 429 and error_code(refusal) == "rate_limited"
        assert refusal.headers["Retry-After"] == "60"
        assert other.post("/api/v1/events", json={"id": "x"}).status_code == 400  # another client's budget


def test_status_and_me_are_rate_limited_per_client(platform: Platform) -> None:
    from .conftest import PRIVATE_LIMIT

    allowed = int(PRIVATE_LIMIT.split("/")[0])
    with from_address(platform, "203.0.113.60") as busy:
        statuses = [busy.get("/api/v1/applications/business-license/NOPE").status_code for _ in range(allowed + 1)]
        assert statuses[:allowed] == [404] * allowed and statuses[allowed] == 429
        assert error_code(busy.get("/api/v1/applications/business-license/NOPE")) == "rate_limited"
        data = DataDir(platform.data)
        me = sign_in(busy, platform.summary["citizen_id"], SigningKey.load(data.key_file("citizen")))
        statuses = [busy.get("/api/v1/me", headers=me).status_code for _ in range(allowed + 1)]
        assert statuses[:allowed] == [200] * allowed and statuses[allowed] == 429


def test_an_event_not_yet_ordered_is_pending_and_an_id_used_twice_is_refused(platform: Platform) -> None:
    key = DataDir(platform.data).signing_key("land-bureau")
    with from_address(platform, "198.51.100.70") as api:
        event = make_event(
            key,
            source="land-bureau",
            type="document.registered",
            data={"document_id": "api-pending", "sha256": "ab" * 32, "title": "Not waited for"},
        )
        pending = api.post("/api/v1/events", params={"wait": 0}, json=event.to_dict())
        assert pending.status_code == 202 and pending.json() == {
            "source": event.source,
            "event_id": event.id,
            "status": "pending",
        }
        assert api.get(f"/api/v1/events/{event.id}").status_code in (200, 404)
        for _ in range(100):  # the orderer cuts a block within its max wait
            found = api.get(f"/api/v1/events/{event.id}")
            if found.status_code == 200:
                break
            time.sleep(0.1)
        assert found.status_code == 200 and found.json()["proof_verified"] is True

        same_id = make_event(
            key,
            source="land-bureau",
            type="document.registered",
            event_id=event.id,
            data={"document_id": "api-other", "sha256": "cd" * 32, "title": "Another, same id"},
        )
        conflict = api.post("/api/v1/events", json=same_id.to_dict())
        assert conflict.status_code == 409 and error_code(conflict) == "conflicting_id"
        assert api.post("/api/v1/events", params={"wait": 61}, json=event.to_dict()).status_code == 400


def test_registry_and_verification_error_cases(platform: Platform) -> None:
    from .conftest import MAX_UPLOAD

    data = DataDir(platform.data)
    with from_address(platform, "198.51.100.80") as api:
        missing = api.get("/api/v1/registry/parcels/P-404")
        assert missing.status_code == 404 and error_code(missing) == "not_found"
        assert "P-404" in missing.json()["error"]["message"]

        # Credentials: not an object, not JSON, no issuer, revoked, an unknown issuer.
        for body in ([1, 2], "a string"):
            refused = api.post("/api/v1/credentials/verify", json=body)
            assert refused.status_code == 400 and error_code(refused) == "bad_request"
        broken = api.post(
            "/api/v1/credentials/verify", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert broken.status_code == 400 and error_code(broken) == "bad_request"
        bare = api.post("/api/v1/credentials/verify", json={"type": ["VerifiableCredential"]}).json()
        assert bare["valid"] is False and "issuer" in bare["reason"]
        market = data.signing_key("market-regulator")
        citizen = platform.summary["citizen_id"]
        revoked = add_proof(  # the demo issued this credential and revoked it
            make_credential(
                did_for("market-regulator"),
                {"id": did_for(citizen), "licence": "street-vendor"},
                ["BusinessOperatorCredential"],
                credential_id=f"urn:govchain:demo:{citizen}",
            ),
            market,
            verification_method_id("market-regulator", market.key_id),
        )
        verdict = api.post("/api/v1/credentials/verify", json=revoked).json()
        assert verdict["valid"] is False and "revoked" in verdict["reason"]
        stranger = SigningKey.generate()
        unknown = add_proof(
            make_credential(did_for("nobody-dept"), {"id": did_for(citizen)}, ["Test"]),
            stranger,
            verification_method_id("nobody-dept", stranger.key_id),
        )
        assert api.post("/api/v1/credentials/verify", json=unknown).json()["valid"] is False

        # Documents: no file, a text field instead of a file, an unregistered one, one too big.
        no_file = api.post("/api/v1/documents/verify")
        assert no_file.status_code == 400 and error_code(no_file) == "bad_request"
        assert error_code(api.post("/api/v1/documents/verify", data={"file": "text"})) == "bad_request"
        unknown_doc = api.post("/api/v1/documents/verify", files={"file": ("x.txt", b"never registered")}).json()
        assert unknown_doc["registered"] is False
        assert unknown_doc["sha256"] == hashlib.sha256(b"never registered").hexdigest()
        too_big = api.post("/api/v1/documents/verify", files={"file": ("big.bin", b"\0" * (MAX_UPLOAD + 1))})
        assert too_big.status_code == 413 and error_code(too_big) == "too_large"
        assert api.post("/api/v1/documents/verify", files={"file": ("ok.bin", b"\0" * MAX_UPLOAD)}).status_code == 200


def test_a_catalog_shows_each_data_set_to_those_it_is_shared_with(platform: Platform) -> None:
    data = DataDir(platform.data)
    land = data.signing_key("land-bureau")
    with from_address(platform, "198.51.100.90") as api:
        for dataset_id, access in (("land-use-stats", "public"), ("parcel-owners", "departments")):
            event = make_event(
                land,
                source="land-bureau",
                type="dataset.published",
                data={
                    "dataset_id": dataset_id,
                    "title": dataset_id,
                    "description": "shared by the land bureau",
                    "fields": ["parcel_id", "land_use"],
                    "access": access,
                    "readers": ["land-bureau"] if access == "departments" else [],
                },
            )
            assert api.post("/api/v1/events", json=event.to_dict()).status_code == 201
        public = api.get("/api/v1/registry/catalog").json()["datasets"]
        assert [(d["dataset_id"], d["department"], d["access"]) for d in public] == [
            ("land-use-stats", "land-bureau", "public")
        ]
        registrar = sign_in(api, "land-registrar", SigningKey.load(data.key_file("land-registrar")))
        inside = api.get("/api/v1/registry/catalog", headers=registrar).json()["datasets"]
        assert [d["dataset_id"] for d in inside] == ["land-use-stats", "parcel-owners", "registered-businesses"]


async def test_every_projection_read_waits_for_the_newest_block(platform: Platform) -> None:
    """Read-your-writes through the gateway: each registry, identity and contract question it
    asks for an HTTP reader, signed in or not, carries ``min_height`` = the chain's newest block,
    so a reader whose event was just committed never gets a projection's older view (before, a
    catalog read could miss it)."""
    asked: dict[str, dict[str, Any]] = {}

    async def spy(msg: Msg) -> None:  # a second subscriber sees each question; the service answers it
        asked[msg.subject] = json.loads(msg.data)

    public, signed = "public", "signed in"
    reads = [
        (subjects.REGISTRY_CATALOG, "GET", "/api/v1/registry/catalog", None, public),
        (subjects.REGISTRY_DEPARTMENTS, "GET", "/api/v1/registry/departments", None, public),
        (subjects.REGISTRY_BUSINESSES, "GET", "/api/v1/registry/businesses?q=a", None, public),
        (subjects.REGISTRY_PARCEL, "GET", "/api/v1/registry/parcels/P-0001", None, public),
        (subjects.REGISTRY_DOCUMENT, "GET", f"/api/v1/documents/{'0' * 64}", None, public),
        (subjects.IDENTITY_VERIFY_CREDENTIAL, "POST", "/api/v1/credentials/verify", {"type": ["x"]}, public),
        (subjects.CONTRACT_CASE, "GET", "/api/v1/applications/business-license/A-1", None, public),
        (subjects.IDENTITY_RESOLVE, "GET", "/api/v1/me", None, signed),
        (subjects.REGISTRY_ACCESS_LOG, "GET", "/api/v1/me/access-log", None, signed),
        (subjects.REGISTRY_CATALOG, "GET", "/api/v1/registry/catalog", None, signed),
        (subjects.REGISTRY_PARCEL, "GET", "/api/v1/registry/parcels/P-0001?purpose=a+check", None, signed),
    ]
    client = {"X-Forwarded-For": "198.51.100.91"}
    with httpx.Client(base_url=platform.url, timeout=60, headers=client) as http:
        registrar = DataDir(platform.data).key_file("land-registrar")
        session = await asyncio.to_thread(sign_in, http, "land-registrar", SigningKey.load(registrar))
    nc = await nats.connect(platform.nats_url)
    try:
        for subject in {read[0] for read in reads}:
            await nc.subscribe(subject, cb=spy)
        await nc.flush()
        async with httpx.AsyncClient(base_url=platform.url, timeout=60, headers=client) as api:
            for subject, method, path, body, who in reads:
                headers = session if who == signed else {}
                before = (await api.get("/api/v1/chain/head")).json()["header"]["height"]
                answer = await api.request(method, path, json=body, headers=headers)
                assert answer.status_code < 500, (path, answer.text)
                after = (await api.get("/api/v1/chain/head")).json()["header"]["height"]
                for _ in range(100):
                    if subject in asked:
                        break
                    await asyncio.sleep(0.05)
                assert subject in asked, f"{method} {path} ({who}) asked nothing on {subject}"
                assert before <= asked.pop(subject).get("min_height", -1) <= after, (path, who)
    finally:
        await nc.close()
