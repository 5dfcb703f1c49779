"""Verifying a credential as of the chain, and resolving a DID: pure functions over a directory.

A Data Integrity proof only says *some* key signed; the chain says whose key it is, whether
that principal may speak for the issuer, and whether the key or the credential was revoked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from govchain.protocol.credentials import credential_time_problem, verify_proof
from govchain.protocol.did import DidError, did_document, did_for, parse_verification_method, principal_of
from govchain.protocol.keys import PublicKey
from govchain.protocol.state import KeyRecord, Principal


class Directory(Protocol):
    """Read access to the identity state (the projection, or an in-memory state in tests)."""

    def principal(self, principal_id: str) -> Principal | None: ...

    def key(self, key_id: str) -> KeyRecord | None: ...

    def keys_of(self, principal_id: str) -> list[KeyRecord]: ...

    def revocation(self, credential_id: str, issuer: str) -> tuple[str, int] | None: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reason: str | None = None
    issuer: str | None = None
    verification_method: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def issuer_did(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def verify_credential(credential: Any, directory: Directory, now: str) -> Verdict:
    """Proof, signer's authority for the issuer, key and credential revocation, validity period."""
    if not isinstance(credential, dict):
        return Verdict(False, "a credential is a JSON object")
    issuer = issuer_did(credential)
    try:
        issuer_id = principal_of(issuer or "")
    except DidError:
        return Verdict(False, f"issuer {issuer!r} is not a did:govchain identifier")
    if directory.principal(issuer_id) is None:
        return Verdict(False, f"issuer {issuer} is not on chain", issuer)

    def resolve(method: str) -> PublicKey | None:
        principal_id, key_id = parse_verification_method(method)
        record = directory.key(key_id)
        return record.public_key if record is not None and record.owner == principal_id else None

    check = verify_proof(credential, resolve)
    if not check.valid:
        return Verdict(False, check.reason, issuer, check.verification_method)
    method = check.verification_method
    assert method is not None
    signer_id, key_id = parse_verification_method(method)
    signer = directory.principal(signer_id)
    if signer is None or (signer_id != issuer_id and signer.department != issuer_id):
        return Verdict(False, f"signed by {did_for(signer_id)}, who does not act for {issuer}", issuer, method)
    record = directory.key(key_id)
    assert record is not None
    if record.revoked:
        reason = f"issuer key {key_id} was revoked at height {record.revoked_height} ({record.revocation_reason})"
        return Verdict(False, reason, issuer, method)
    credential_id = credential.get("id")
    if isinstance(credential_id, str):
        revoked = directory.revocation(credential_id, issuer_id)
        if revoked is not None:
            return Verdict(False, f"credential revoked at height {revoked[1]} ({revoked[0]})", issuer, method)
    problem = credential_time_problem(credential, now)
    if problem:
        return Verdict(False, problem, issuer, method)
    return Verdict(True, None, issuer, method)


def resolve_did(did: str, directory: Directory) -> dict[str, Any]:
    """A DID resolution result (DID Core §7.1): document plus document and resolution metadata."""
    try:
        principal_id = principal_of(did)
    except DidError as exc:
        return {"didDocument": None, "didDocumentMetadata": {},
                "didResolutionMetadata": {"error": "invalidDid", "detail": str(exc)}}
    principal = directory.principal(principal_id)
    if principal is None:
        return {"didDocument": None, "didDocumentMetadata": {}, "didResolutionMetadata": {"error": "notFound"}}
    records = directory.keys_of(principal_id)
    usable = [(r.key_id, r.public_key) for r in records if not r.revoked]
    controller = None
    if principal.kind == "official" and principal.department:
        controller = did_for(principal.department)
    elif principal.kind in ("department", "service"):
        controller = did_for("root")
    document = did_document(principal_id, controller=controller, keys=usable)
    return {
        "didDocument": document,
        "didDocumentMetadata": {
            "created_height": principal.registered_height,
            "updated_height": principal.updated_height,
            "deactivated": not usable,
            "kind": principal.kind,
            "revokedKeys": [
                {"key_id": r.key_id, "height": r.revoked_height, "reason": r.revocation_reason}
                for r in records if r.revoked
            ],
        },
        "didResolutionMetadata": {"contentType": "application/did+json"},
    }
