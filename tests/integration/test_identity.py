"""The identity service against real NATS and real databases: DIDs, keys over time, credentials."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from govchain.protocol.credentials import GOVCHAIN_CONTEXT, VC_V2_CONTEXT, add_proof, make_credential
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.services.identity.service import run_identity
from tests.conftest import BOTH_PROFILES

from .conftest import Ledger

CITIZEN = "c-" + "5e" * 16


@pytest.fixture
async def identity(ledger: Ledger, db_url: str) -> AsyncIterator[Ledger]:
    """The identity service, its projection on SQLite or PostgreSQL, next to the running ledger."""
    settings = ledger.settings.model_copy(update={"database_url": db_url})
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_identity(settings, ledger.nats_url, stop, ready))
    await asyncio.wait_for(ready.wait(), 20)
    yield ledger
    stop.set()
    await asyncio.wait_for(task, 20)


async def committed(ledger: Ledger, signer: SigningKey, source: str, type: str, data: dict[str, Any]) -> int:
    receipt = await ledger.submit(make_event(signer, source=source, type=type, data=data))
    assert receipt["status"] == "committed", receipt
    return int(receipt["height"])


async def resolve(ledger: Ledger, did: str, height: int) -> dict[str, Any]:
    return await ledger.client.resolve_did(did, min_height=height)


def credential_for(
    issuer: str, key: SigningKey, *, signer: str | None = None, cid: str = "urn:test:1"
) -> dict[str, Any]:
    document = make_credential(
        did_for(issuer),
        {"id": did_for(CITIZEN), "clearance": "tax paid"},
        ["TaxClearanceCredential"],
        credential_id=cid,
    )
    return add_proof(document, key, verification_method_id(signer or issuer, key.key_id))


@BOTH_PROFILES
async def test_dids_resolve_with_their_current_keys_and_revocations(identity: Ledger) -> None:
    tax = await identity.register_department("tax")
    alice = identity.new_key()
    height = await committed(
        identity,
        tax,
        "tax",
        "official.registered",
        {
            "official_id": "tax-alice",
            "department_id": "tax",
            "name": "Alice",
            "public_key": alice.public.hex,
            "roles": ["issuer"],
        },
    )
    official = await resolve(identity, "did:govchain:tax-alice", height)
    document = official["didDocument"]
    assert document["id"] == "did:govchain:tax-alice" and document["controller"] == "did:govchain:tax"
    assert [m["id"] for m in document["verificationMethod"]] == [f"did:govchain:tax-alice#{alice.key_id}"]
    assert document["assertionMethod"] == [f"did:govchain:tax-alice#{alice.key_id}"]

    assert official["didResolutionMetadata"] == {}  # DID Core §7.1.2: no contentType from resolve()
    assert official["didDocumentMetadata"]["deactivated"] is False
    assert official["didDocumentMetadata"]["created_height"] == str(height)

    height = await committed(identity, tax, "tax", "key.revoked", {"key_id": alice.key_id, "reason": "left office"})
    after = await resolve(identity, "did:govchain:tax-alice", height)
    # Deactivated: no usable key, so no verification relationships (DID Core §5.3.1/§5.3.2).
    assert after["didDocument"] == {
        "@context": document["@context"],
        "id": "did:govchain:tax-alice",
        "controller": "did:govchain:tax",
    }
    assert after["didDocumentMetadata"]["deactivated"] is True
    assert after["didDocumentMetadata"]["revokedKeys"] == [
        {"key_id": alice.key_id, "height": str(height), "reason": "left office"}
    ]
    assert_metadata_structure(after["didDocumentMetadata"])
    missing = await resolve(identity, "did:govchain:nobody", height)
    assert missing == {"didDocument": None, "didDocumentMetadata": {}, "didResolutionMetadata": {"error": "notFound"}}
    other_method = await resolve(identity, "did:web:example.org", height)
    assert other_method["didResolutionMetadata"]["error"] == "methodNotSupported"
    assert (await resolve(identity, "did:govchain:Not Valid", height))["didResolutionMetadata"]["error"] == "invalidDid"


def assert_metadata_structure(value: Any) -> None:
    """DID Core §7.3: strings, maps, lists, booleans or null, all the way down (no numbers)."""
    if isinstance(value, dict):
        for name, item in value.items():
            assert isinstance(name, str)
            assert_metadata_structure(item)
    elif isinstance(value, list):
        for item in value:
            assert_metadata_structure(item)
    else:
        assert value is None or isinstance(value, str | bool), f"{value!r} is not a metadata value"


@BOTH_PROFILES
async def test_a_key_revoked_in_one_block_cannot_sign_in_the_next(identity: Ledger) -> None:
    await identity.register_department("tax")
    spare = identity.new_key()
    await committed(
        identity, identity.department_keys["tax"], "tax", "key.added", {"owner": "tax", "public_key": spare.public.hex}
    )
    await committed(
        identity, identity.department_keys["tax"], "tax", "key.revoked", {"key_id": spare.key_id, "reason": "test"}
    )
    receipt = await identity.submit(
        make_event(
            spare,
            source="tax",
            type="document.registered",
            data={"document_id": "late", "sha256": "a" * 64, "title": "Too late"},
        )
    )
    assert (receipt["status"], receipt["reason"]) == ("rejected", "key_revoked")


@pytest.mark.parametrize("ledger", [{"batch_max_wait_ms": 1500}], indirect=True)
@BOTH_PROFILES
async def test_a_key_registered_earlier_in_a_block_can_sign_later_in_it(ledger: Ledger) -> None:
    """The same-block rules, pinned by the heights in the receipts (a long batch timer keeps
    events published together in one block unless a key change cuts it)."""
    await ledger.register_department("tax")
    key = ledger.new_key()
    register = make_event(
        ledger.root,
        source="root",
        type="department.registered",
        data={"department_id": "housing", "name": "Housing", "public_key": key.public.hex},
    )
    ledger.department_keys["housing"] = key
    first_use = ledger.document("housing", 1)
    revoke = make_event(key, source="housing", type="key.revoked", data={"key_id": key.key_id, "reason": "lost"})
    use_after_revoke = ledger.document("housing", 2)
    events = (register, first_use, revoke, use_after_revoke)
    for envelope in events:
        await ledger.client.publish(envelope)
    receipts = [await ledger.client.wait_receipt(e.id, e.source) for e in events]
    assert [r["status"] for r in receipts] == ["committed", "committed", "committed", "rejected"], receipts
    registered_at = receipts[0]["height"]
    # Registration and the key's first use share one block, in that order.
    assert receipts[1]["height"] == registered_at
    assert receipts[1]["position"] == receipts[0]["position"] + 1
    # A key change cuts the block before it: the revocation opens block h = registered_at + 1,
    # and the key cannot sign after it, neither later in block h ...
    revoked_at = receipts[2]["height"]
    assert revoked_at == registered_at + 1 and receipts[2]["position"] == 0
    assert receipts[3]["reason"] == "key_revoked"
    # ... nor in block h + 1 and later: judged with a good event that lands after h.
    late_use, other = ledger.document("housing", 3), ledger.document("tax", 1)
    for envelope in (late_use, other):
        await ledger.client.publish(envelope)
    late, landed = [await ledger.client.wait_receipt(e.id, e.source) for e in (late_use, other)]
    assert (late["status"], late["reason"]) == ("rejected", "key_revoked")
    assert landed["status"] == "committed" and landed["height"] > revoked_at
    on_chain = (await ledger.client.receipt(use_after_revoke.id, "housing"))["status"]
    assert on_chain == "rejected"


async def test_a_rotated_key_signs_through_its_grace_blocks_then_stops(identity: Ledger) -> None:
    old = await identity.register_department("tax")
    new = identity.new_key()
    before_rotation = credential_for("tax", old, cid="urn:test:before")
    rotated_at = await committed(
        identity,
        old,
        "tax",
        "key.rotated",
        {"owner": "tax", "old_key_id": old.key_id, "public_key": new.public.hex, "grace_blocks": 2},
    )
    in_grace = await resolve(identity, did_for("tax"), rotated_at)  # nothing after the rotation yet
    assert in_grace["didDocumentMetadata"]["as_of_height"] == str(rotated_at)
    assert {m["id"].split("#")[1] for m in in_grace["didDocument"]["verificationMethod"]} == {old.key_id, new.key_id}
    identity.department_keys["tax"] = new
    assert (await identity.submit(identity.document("tax", 1)))["status"] == "committed"  # new key at once
    identity.department_keys["tax"] = old
    heights = []
    while True:  # each document lands in its own block; the old key works up to rotated_at + 2
        receipt = await identity.submit(identity.document("tax", len(heights) + 2))
        if receipt["status"] == "rejected":
            assert receipt["reason"] == "key_revoked"
            break
        heights.append(receipt["height"])
    assert max(heights) <= rotated_at + 2 and heights

    # Past its grace blocks the old key is no verification method any more, only a retired key.
    head = await identity.client.head_height()
    assert head >= rotated_at + 2
    after = await resolve(identity, did_for("tax"), head)
    document = after["didDocument"]
    assert [m["id"] for m in document["verificationMethod"]] == [verification_method_id("tax", new.key_id)]
    assert document["assertionMethod"] == document["authentication"] == [verification_method_id("tax", new.key_id)]
    assert after["didDocumentMetadata"]["retiredKeys"] == [{"key_id": old.key_id, "valid_until": str(rotated_at + 2)}]
    assert after["didDocumentMetadata"]["revokedKeys"] == []
    assert_metadata_structure(after["didDocumentMetadata"])

    # What the old key issued while it could still sign stays valid; what it issues now does not.
    answer = await identity.client.verify_credential(before_rotation, min_height=head)
    assert (answer["valid"], answer["reason"]) == (True, None)
    late = credential_for("tax", old, cid="urn:test:late")
    answer = await identity.client.verify_credential(late, min_height=head)
    assert answer["valid"] is False
    assert answer["reason"].startswith(f"issuer key {old.key_id} was rotated out at height {rotated_at + 2} (")
    assert answer["reason"].endswith(f"before the credential was issued ({late['proof']['created']})")
    fresh = credential_for("tax", new, cid="urn:test:new")
    assert (await identity.client.verify_credential(fresh, min_height=head))["valid"] is True


async def test_credentials_verify_against_the_chain_with_reasons(identity: Ledger) -> None:
    tax = await identity.register_department("tax")
    land = await identity.register_department("land")
    clerk = identity.new_key()
    height = await committed(
        identity,
        tax,
        "tax",
        "official.registered",
        {"official_id": "tax-clerk", "department_id": "tax", "name": "Clerk", "public_key": clerk.public.hex},
    )

    async def verdict(credential: dict[str, Any], at: int) -> tuple[bool, str | None]:
        answer = await identity.client.verify_credential(credential, min_height=at)
        return answer["valid"], answer["reason"]

    issued = credential_for("tax", tax)
    assert await verdict(issued, height) == (True, None)
    by_official = credential_for("tax", clerk, signer="tax-clerk", cid="urn:test:2")
    assert await verdict(by_official, height) == (True, None)

    tampered = json.loads(json.dumps(issued))
    tampered["credentialSubject"]["clearance"] = "tax evaded"
    assert await verdict(tampered, height) == (False, "signature does not verify")
    impostor = credential_for("tax", land, signer="land", cid="urn:test:3")
    valid, reason = await verdict(impostor, height)
    assert not valid and "does not act for did:govchain:tax" in (reason or "")
    unknown = credential_for("tax", identity.new_key(), cid="urn:test:4")
    assert await verdict(unknown, height) == (False, "unknown verification method")

    height = await committed(
        identity, tax, "tax", "credential.revoked", {"credential_id": "urn:test:1", "reason": "paid late"}
    )
    valid, reason = await verdict(issued, height)
    assert not valid and reason == f"credential revoked at height {height} (paid late)"
    assert (await verdict(by_official, height))[0] is True  # only the revoked credential is affected

    height = await committed(identity, tax, "tax", "key.revoked", {"key_id": clerk.key_id, "reason": "compromised"})
    valid, reason = await verdict(by_official, height)
    assert not valid and reason == f"issuer key {clerk.key_id} was revoked at height {height} (compromised)"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the command line, not the store, under test
async def test_the_credential_commands(identity: Ledger, tmp_path: Path) -> None:
    tax = await identity.register_department("tax")
    key_file = tmp_path / "tax.pem"
    tax.save(key_file)
    subject = json.dumps({"id": did_for(CITIZEN), "clearance": "ok"})
    cli = [sys.executable, "-m", "govchain.services.cli"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=60)

    out = tmp_path / "vc.json"
    issued = run(
        "credential",
        "issue",
        "--key",
        str(key_file),
        "--issuer",
        "tax",
        "--subject",
        subject,
        "--type",
        "TaxClearanceCredential",
        "--id",
        "urn:cli:1",
        "--out",
        str(out),
    )
    assert issued.returncode == 0, issued.stderr
    verify = await asyncio.to_thread(run, "credential", "verify", str(out), "--json", "--nats-url", identity.nats_url)
    assert json.loads(verify.stdout) == {"valid": True, "reason": None}

    credential = json.loads(out.read_text())
    credential["validUntil"] = "2000-01-01T00:00:00Z"
    out.write_text(json.dumps(credential))
    tampered = await asyncio.to_thread(run, "credential", "verify", str(out), "--json", "--nats-url", identity.nats_url)
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout) == {"valid": False, "reason": "signature does not verify"}

    # Without --id the credential gets a fresh urn:uuid (the help's promise), and the command
    # neither loses it nor crashes reporting it.
    out = tmp_path / "vc-default-id.json"
    issued = run(
        "credential",
        "issue",
        "--key",
        str(key_file),
        "--issuer",
        "tax",
        "--subject",
        subject,
        "--type",
        "TaxClearanceCredential",
        "--out",
        str(out),
    )
    assert issued.returncode == 0, issued.stderr
    credential = json.loads(out.read_text())
    assert str(uuid.UUID(credential["id"].removeprefix("urn:uuid:"))) == credential["id"].removeprefix("urn:uuid:")
    assert credential["id"].startswith("urn:uuid:") and credential["id"] in issued.stderr
    assert credential["@context"] == [VC_V2_CONTEXT, GOVCHAIN_CONTEXT]
    verify = await asyncio.to_thread(run, "credential", "verify", str(out), "--json", "--nats-url", identity.nats_url)
    assert json.loads(verify.stdout) == {"valid": True, "reason": None}
    printed = run(
        "credential",
        "issue",
        "--key",
        str(key_file),
        "--issuer",
        "tax",
        "--subject",
        subject,
        "--type",
        "TaxClearanceCredential",
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["id"].startswith("urn:uuid:")

    # `did resolve --json` prints a DID Core §7.1 resolution result: those three members only.
    resolved = await asyncio.to_thread(
        run, "did", "resolve", "did:govchain:tax", "--json", "--nats-url", identity.nats_url
    )
    assert resolved.returncode == 0, resolved.stderr
    result = json.loads(resolved.stdout)
    assert set(result) == {"didDocument", "didResolutionMetadata", "didDocumentMetadata"}
    assert result["didDocument"]["id"] == "did:govchain:tax"
    assert result["didResolutionMetadata"] == {}
    assert result["didDocumentMetadata"]["deactivated"] is False
    assert_metadata_structure(result["didDocumentMetadata"])
    unknown = await asyncio.to_thread(
        run, "did", "resolve", "did:govchain:nobody", "--json", "--nats-url", identity.nats_url
    )
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout) == {
        "didDocument": None,
        "didResolutionMetadata": {"error": "notFound"},
        "didDocumentMetadata": {},
    }
