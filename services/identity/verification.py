"""Verifying a credential as of the chain, and resolving a DID: pure functions over a directory.

A Data Integrity proof only says *some* key signed; the chain says whose key it is, whether
that principal may speak for the issuer, and whether the key or the credential was revoked.

Keys over time. A key can sign the next block while it is unrevoked and, once rotated out,
until its ``valid_until`` height (:meth:`KeyRecord.usable_at`). A DID document lists exactly
those keys. A credential carries no height, only its issuance time (the proof's
``created``, else ``validFrom``), so it is judged against the *time* of the block at the
key's ``valid_until`` height: the moment the key stopped being able to sign anything new.

- revoked issuer key: the credential fails whenever it was issued (revocation means
  "do not trust this key", e.g. compromise);
- rotated-out key: a credential issued up to the retirement time stays valid (a routine
  rotation does not void what was properly issued); one issued after it fails, and so does
  one that does not say when it was issued. A holder of a retired key can backdate
  ``created``; that is what revocation is for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from govchain.protocol.credentials import credential_time_problem, parse_datetime, verify_proof
from govchain.protocol.did import (
    DID_PREFIX,
    DidError,
    did_document,
    did_for,
    is_did,
    parse_verification_method,
    principal_of,
)
from govchain.protocol.keys import PublicKey
from govchain.protocol.state import KeyRecord, Principal


class Directory(Protocol):
    """Read access to the identity state (the projection, or an in-memory state in tests)."""

    def principal(self, principal_id: str) -> Principal | None: ...

    def key(self, key_id: str) -> KeyRecord | None: ...

    def keys_of(self, principal_id: str) -> list[KeyRecord]: ...

    def revocation(self, credential_id: str, issuer: str) -> tuple[str, int] | None: ...

    def retirement(self, key_id: str) -> tuple[int, str] | None:
        """``(height, block time)`` of the last block a rotated-out key could sign, once applied."""
        ...

    @property
    def height(self) -> int:
        """The last block the directory reflects."""
        ...


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


def issued_at(credential: dict[str, Any]) -> str | None:
    """When the credential was issued: its proof's ``created``, else its ``validFrom``."""
    proof = credential.get("proof")
    created = proof.get("created") if isinstance(proof, dict) else None
    if isinstance(created, str):
        return created
    valid_from = credential.get("validFrom")
    return valid_from if isinstance(valid_from, str) else None


def key_problem(record: KeyRecord, credential: dict[str, Any], directory: Directory) -> str | None:
    """Why the issuer key could not have issued ``credential``, or None."""
    key_id = record.key_id
    if record.revoked:
        return f"issuer key {key_id} was revoked at height {record.revoked_height} ({record.revocation_reason})"
    if record.valid_until is None or record.valid_until > directory.height:
        return None  # current, or rotated out but still in its grace blocks
    retired = directory.retirement(key_id)
    if retired is None:
        return (
            f"issuer key {key_id} was rotated out at height {record.valid_until}; its retirement time is not known here"
        )
    height, block_time = retired
    issued = issued_at(credential)
    instant, cutoff = parse_datetime(issued, require_timezone=False), parse_datetime(block_time, require_timezone=False)
    if instant is None or cutoff is None:
        return f"issuer key {key_id} was rotated out at height {height} ({block_time}); the credential does not say when it was issued"
    if instant > cutoff:
        return f"issuer key {key_id} was rotated out at height {height} ({block_time}), before the credential was issued ({issued})"
    return None


def verify_credential(credential: Any, directory: Directory, now: str) -> Verdict:
    """Proof, signer's authority for the issuer, the issuer key's status when the credential was
    issued (revoked, rotated out), credential revocation, validity period."""
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
    problem = key_problem(record, credential, directory)
    if problem:
        return Verdict(False, problem, issuer, method)
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
    """DID Core §7.1 ``resolve``: ``didResolutionMetadata``, ``didDocument``, ``didDocumentMetadata``.

    The document lists the keys that can sign the next block (as of ``directory.height``):
    revoked keys and rotated-out keys past their grace blocks are left out, and named in the
    metadata so a verifier can tell why.

    ``didResolutionMetadata`` is empty on success (§7.1.2: ``contentType`` belongs to
    ``resolveRepresentation`` and must not be present for ``resolve``, whose document is a map);
    on failure it holds ``error``: ``invalidDid`` (not a DID, or not a valid ``did:govchain``
    one), ``methodNotSupported`` (another DID method; DID Resolution §"Errors") or ``notFound``,
    and the document metadata is then empty (§7.1).

    ``didDocumentMetadata`` follows §7.3: every value is a string, map, list, boolean or null,
    never a number, so block heights are written as decimal strings:

    - ``deactivated``: true when no key of the principal can sign (all revoked or retired);
      false otherwise (§7.1.3, as DID Resolution asks);
    - ``kind``: department, official, citizen, service, root;
    - ``created_height``: the block that registered the principal;
    - ``updated_height``: the last block that changed the principal's own record;
    - ``as_of_height``: the last block the answer reflects;
    - ``revokedKeys``: ``{"key_id", "height" (the block of the revocation), "reason" (or null)}``;
    - ``retiredKeys``: ``{"key_id", "valid_until" (the last block it could sign)}``.
    """
    try:
        principal_id = principal_of(did)
    except DidError as exc:
        error = "methodNotSupported" if is_did(did) and not did.startswith(DID_PREFIX) else "invalidDid"
        return {
            "didDocument": None,
            "didDocumentMetadata": {},
            "didResolutionMetadata": {"error": error, "detail": str(exc)},
        }
    principal = directory.principal(principal_id)
    if principal is None:
        return {"didDocument": None, "didDocumentMetadata": {}, "didResolutionMetadata": {"error": "notFound"}}
    records = directory.keys_of(principal_id)
    next_height = directory.height + 1
    usable = [(r.key_id, r.public_key) for r in records if r.usable_at(next_height)]
    controller = None
    if principal.kind == "official" and principal.department:
        controller = did_for(principal.department)
    elif principal.kind in ("department", "service"):
        controller = did_for("root")
    document = did_document(principal_id, controller=controller, keys=usable)
    return {
        "didDocument": document,
        "didDocumentMetadata": {
            "created_height": str(principal.registered_height),
            "updated_height": str(principal.updated_height),
            "deactivated": not usable,
            "kind": principal.kind,
            "revokedKeys": [
                {"key_id": r.key_id, "height": str(r.revoked_height), "reason": r.revocation_reason}
                for r in records
                if r.revoked
            ],
            "retiredKeys": [
                {"key_id": r.key_id, "valid_until": str(r.valid_until)}
                for r in records
                if not r.revoked and not r.usable_at(next_height)
            ],
            "as_of_height": str(directory.height),
        },
        "didResolutionMetadata": {},
    }
