"""The HTTP API against a real platform: each endpoint's success and error cases."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from govchain.datadir import DataDir
from govchain.protocol.credentials import add_proof, make_credential
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym
from govchain.services.cli.demo import DEMO_BUYER_NATIONAL_ID

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
    assert api.get("/docs").status_code == 200


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
    proof = api.get(f"/api/v1/events/{event_id}/proof", params={"at_height": head["header"]["height"]}).json()
    assert proof["verified"] is True and proof["tree_size"] == head["header"]["log_size"]
    assert error_code(api.get("/api/v1/events/not-an-event")) == "not_found"
    assert api.get("/api/v1/events/bad%20id").status_code == 400
    consistency = api.get("/api/v1/consistency", params={"first": 2, "second": head["header"]["height"]}).json()
    assert consistency["verified"] is True
    assert error_code(api.get("/api/v1/consistency", params={"first": 5, "second": 2})) == "bad_request"
    assert error_code(api.get("/api/v1/consistency", params={"first": "x", "second": 2})) == "bad_request"


def test_submitting_signed_events(api: httpx.Client, platform: Platform) -> None:
    data = DataDir(platform.data)
    key = data.signing_key("land-bureau")
    good = make_event(key, source="land-bureau", type="document.registered",
                      data={"document_id": "api-1", "sha256": "ee" * 32, "title": "Submitted over HTTP"})
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
        "land-bureau", "market-regulator"}
    assert api.get("/api/v1/registry/catalog").json()["datasets"] == []

    document = b"market-regulator document 0"
    digest = hashlib.sha256(document).hexdigest()
    assert api.get(f"/api/v1/documents/{digest}").json()["registered"] is True
    uploaded = api.post("/api/v1/documents/verify", files={"file": ("doc.txt", document)}).json()
    assert uploaded["sha256"] == digest and uploaded["registered"] is True
    assert api.get(f"/api/v1/documents/{'0' * 64}").json()["registered"] is False
    assert error_code(api.get("/api/v1/documents/not-a-hash")) == "bad_request"

    key = DataDir(platform.data).signing_key("market-regulator")
    credential = add_proof(make_credential(did_for("market-regulator"), {"id": "did:govchain:c-x"}, ["Test"]),
                           key, verification_method_id("market-regulator", key.key_id))
    assert api.post("/api/v1/credentials/verify", json=credential).json()["valid"] is True
    credential["credentialSubject"]["id"] = "did:govchain:c-y"
    verdict = api.post("/api/v1/credentials/verify", json=credential).json()
    assert verdict == {**verdict, "valid": False, "reason": "signature does not verify"}


def sign_in(api: httpx.Client, principal: str, key: SigningKey) -> dict[str, str]:
    challenge = api.post("/api/v1/auth/challenge").json()["challenge"]
    session = api.post("/api/v1/auth/session", json={
        "principal": principal, "key_id": key.key_id, "challenge": challenge,
        "signature": key.sign(challenge.encode()).hex()})
    assert session.status_code == 200, session.text
    return {"Authorization": f"Bearer {session.json()['token']}"}


def test_signing_in_and_seeing_ones_own_data_and_access_log(api: httpx.Client, platform: Platform) -> None:
    data = DataDir(platform.data)
    buyer = pseudonym(DEMO_BUYER_NATIONAL_ID, data.pseudonym_key())
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
    wrong_key = api.post("/api/v1/auth/session", json={
        "principal": buyer, "key_id": stranger.key_id, "challenge": challenge,
        "signature": stranger.sign(challenge.encode()).hex()})
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
