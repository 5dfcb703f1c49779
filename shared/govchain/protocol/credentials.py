"""W3C Verifiable Credentials 2.0 secured with ``eddsa-jcs-2022`` Data Integrity proofs.

The algorithms follow "Data Integrity EdDSA Cryptosuites v1.0" (W3C Recommendation,
§3.3) step by step, so a credential GovChain issues verifies in any conforming wallet
or verifier and the other way round: the proof signs
``SHA-256(JCS(proof configuration)) || SHA-256(JCS(document without proof))`` with
Ed25519, and ``proofValue`` is the multibase base58btc of the 64-byte signature.

Verification never raises on bad input: it returns a :class:`ProofCheck` whose
``reason`` says which check failed, so a portal or an auditor can show it as is.
Everything here is pure: keys are resolved through a callback, time is passed in.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from govchain.crypto import CREDENTIAL_SUITE
from govchain.protocol.canonical import NestingTooDeep, canonical_bytes, sha256
from govchain.protocol.envelope import utc_now
from govchain.protocol.errors import CanonicalizationError, GovChainError
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.multikey import MultikeyError, decode_multibase_b58, multibase_b58

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
GOVCHAIN_CONTEXT = "https://govchain.example/contexts/govchain/v1"
"""The GovChain JSON-LD context: the terms GovChain credentials use that VC 2.0 does not define
(credential types such as ``TaxClearanceCredential``, claims such as ``clearance`` and
``amount``, the ``GovChainRevocation`` status type). It is an identifier, not a location to
fetch at run time: the document ships in this package (:func:`govchain_context`) and every
gateway serves the same bytes at ``/contexts/govchain/v1``, so verifiers pin it as VC 2.0
§4.3 asks. Its host is in the reserved ``.example`` domain (RFC 2606), so nobody can ever
serve other terms under this name; version 1 never changes, new terms go into a v2."""
GOVCHAIN_CONTEXT_FILE = "govchain-v1.jsonld"
VERIFIABLE_CREDENTIAL = "VerifiableCredential"
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
ASSERTION_METHOD = "assertionMethod"
SIGNATURE_LENGTH = 64


class CredentialError(GovChainError):
    """A credential or proof cannot be built from the given input (issuer side only)."""


class ProofFailure(StrEnum):
    """Why a proof did not verify; stable strings a caller can match on or show."""

    MALFORMED_DOCUMENT = "malformed document"
    NO_PROOF = "no proof"
    PROOF_SET = "proof sets are not supported"
    MALFORMED_PROOF = "malformed proof"
    UNSUPPORTED_PROOF_TYPE = "unsupported proof type"
    UNSUPPORTED_CRYPTOSUITE = "unsupported cryptosuite"
    INVALID_CREATED = "invalid created"
    PROOF_PURPOSE_MISMATCH = "proof purpose mismatch"
    CONTEXT_MISMATCH = "context mismatch"
    MALFORMED_PROOF_VALUE = "malformed proofValue"
    UNKNOWN_VERIFICATION_METHOD = "unknown verification method"
    NOT_CANONICALIZABLE = "document cannot be canonicalized"
    BAD_SIGNATURE = "signature does not verify"


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """The outcome of :func:`verify_proof`; ``reason`` is None exactly when ``valid``."""

    valid: bool
    reason: str | None
    verification_method: str | None


# --------------------------------------------------------------------------- time values

_DATETIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?"
)


def parse_datetime(value: Any, *, require_timezone: bool = True) -> datetime | None:
    """An XML Schema ``dateTime`` (``dateTimeStamp`` when a timezone is required), or None.

    Years outside 0001-9999, ``24:00:00`` and leap seconds are refused: they cannot be
    compared reliably, and nothing GovChain issues uses them. A value without a timezone
    is read as UTC.
    """
    if not isinstance(value, str):
        return None
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    tz_text = match["tz"]
    if tz_text is None and require_timezone:
        return None
    tz = UTC
    if tz_text not in (None, "Z"):
        hours, minutes = int(tz_text[1:3]), int(tz_text[4:6])
        if hours > 14 or minutes > 59 or (hours == 14 and minutes):
            return None
        sign = 1 if tz_text[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=tz,
        )
    except ValueError:
        return None


# --------------------------------------------------------------------------- credentials


def govchain_context_bytes() -> bytes:
    """The GovChain JSON-LD context document, exactly as published (package data)."""
    return resources.files("govchain.protocol.contexts").joinpath(GOVCHAIN_CONTEXT_FILE).read_bytes()


@cache
def _govchain_context_text() -> str:
    return govchain_context_bytes().decode("utf-8")


def govchain_context() -> dict[str, Any]:
    """The GovChain JSON-LD context document as a JSON object (a fresh copy each call)."""
    document: dict[str, Any] = json.loads(_govchain_context_text())
    return document


def make_credential(
    issuer: str,
    subject: dict[str, Any],
    types: list[str],
    *,
    credential_id: str | None = None,
    valid_from: str | None = None,
    valid_until: str | None = None,
    status: dict[str, Any] | None = None,
    contexts: Sequence[str | dict[str, Any]] = (GOVCHAIN_CONTEXT,),
) -> dict[str, Any]:
    """An unsecured VC 2.0 credential; secure it with :func:`add_proof`.

    ``@context`` is the VC 2.0 context followed by ``contexts``: by default the GovChain
    context, which defines GovChain's credential types and claims; a department whose
    claims it does not define adds its own context here (VC 2.0 §4.3: every term of a
    credential is defined by a context).
    ``types`` are added after ``VerifiableCredential`` (which is always first, once).
    Validity bounds must be ``dateTimeStamp`` values, so a wallet anywhere compares
    them the same way.
    """
    if not isinstance(issuer, str) or ":" not in issuer:
        raise CredentialError("issuer must be a URL (e.g. a DID)")
    if not isinstance(subject, dict):
        raise CredentialError("credentialSubject must be a JSON object")
    if isinstance(types, str) or not all(isinstance(t, str) and t for t in types):
        raise CredentialError("types must be a list of non-empty strings")
    all_types = [VERIFIABLE_CREDENTIAL]
    for type_name in types:
        if type_name not in all_types:
            all_types.append(type_name)
    if isinstance(contexts, str | dict) or not all(
        (isinstance(c, str) and ":" in c) or isinstance(c, dict) for c in contexts
    ):
        raise CredentialError("contexts must be a list of context URLs or context objects")
    context_list: list[Any] = [VC_V2_CONTEXT]
    for context in contexts:
        if context not in context_list:
            context_list.append(copy.deepcopy(context))
    credential: dict[str, Any] = {"@context": context_list}
    if credential_id is not None:
        if not isinstance(credential_id, str) or ":" not in credential_id:
            raise CredentialError("credential id must be a URL (e.g. urn:uuid:...)")
        credential["id"] = credential_id
    credential["type"] = all_types
    credential["issuer"] = issuer
    for name, value in (("validFrom", valid_from), ("validUntil", valid_until)):
        if value is not None:
            if parse_datetime(value) is None:
                raise CredentialError(f"{name} must be an XML Schema dateTimeStamp")
            credential[name] = value
    if valid_from is not None and valid_until is not None:
        if parse_datetime(valid_until) < parse_datetime(valid_from):  # type: ignore[operator]
            raise CredentialError("validUntil precedes validFrom")
    credential["credentialSubject"] = copy.deepcopy(subject)
    if status is not None:
        if not isinstance(status, dict):
            raise CredentialError("credentialStatus must be a JSON object")
        credential["credentialStatus"] = copy.deepcopy(status)
    return credential


def credential_time_problem(vc: Any, now: str) -> str | None:
    """Why ``vc`` is not valid at ``now`` by its validFrom/validUntil, or None.

    Both bounds are inclusive. Bad values in ``vc`` are reported, never raised; a bad
    ``now`` is the caller's bug and raises :class:`CredentialError`.
    """
    instant = parse_datetime(now)
    if instant is None:
        raise CredentialError(f"now is not an XML Schema dateTimeStamp: {now!r}")
    if not isinstance(vc, Mapping):
        return "malformed credential"
    bounds: dict[str, datetime] = {}
    for name in ("validFrom", "validUntil"):
        if name in vc:
            parsed = parse_datetime(vc[name])
            if parsed is None:
                return f"malformed {name}"
            bounds[name] = parsed
    start, end = bounds.get("validFrom"), bounds.get("validUntil")
    if start is not None and end is not None and end < start:
        return "validUntil precedes validFrom"
    if start is not None and instant < start:
        return "not yet valid"
    if end is not None and instant > end:
        return "expired"
    return None


# --------------------------------------------------------------------------- eddsa-jcs-2022


def proof_configuration(options: Mapping[str, Any]) -> bytes:
    """§3.3.5 Proof Configuration: the JCS bytes of the proof options (``@context`` included)."""
    if options.get("type") != PROOF_TYPE or options.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialError(f"proof options must be {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    if "created" in options and parse_datetime(options["created"], require_timezone=False) is None:
        raise CredentialError("proof created must be an XML Schema dateTime")
    return canonical_bytes(dict(options))


def transform(unsecured_document: Mapping[str, Any], options: Mapping[str, Any]) -> bytes:
    """§3.3.3 Transformation: the JCS bytes of the document without its proof."""
    # The spec's "and" here reads as "or" (as in §3.3.5): either mismatch is refused.
    if options.get("type") != PROOF_TYPE or options.get("cryptosuite") != CRYPTOSUITE:
        raise CredentialError(f"transformation options must be {PROOF_TYPE}/{CRYPTOSUITE}")
    return canonical_bytes(dict(unsecured_document))


def hash_data(transformed_document: bytes, canonical_proof_config: bytes) -> bytes:
    """§3.3.4 Hashing: SHA-256(proof config) followed by SHA-256(document), 64 bytes."""
    return sha256(canonical_proof_config) + sha256(transformed_document)


def add_proof(
    document: dict[str, Any],
    key: SigningKey,
    verification_method: str,
    *,
    created: str | None = None,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """§3.3.1 Create Proof: a copy of ``document`` with an ``eddsa-jcs-2022`` ``proof``.

    ``created`` defaults to now. The proof copies the document's ``@context`` (step 2),
    so the proof stays verifiable if it is later placed in a proof set or chain.
    """
    if not isinstance(document, dict):
        raise CredentialError("the document to secure must be a JSON object")
    if "proof" in document:
        raise CredentialError("the document already has a proof; proof sets are not supported")
    if not isinstance(verification_method, str) or not verification_method:
        raise CredentialError("verificationMethod must be a non-empty string")
    if not isinstance(proof_purpose, str) or not proof_purpose:
        raise CredentialError("proofPurpose must be a non-empty string")
    if key.suite is not CREDENTIAL_SUITE:
        raise CredentialError(
            f"{CRYPTOSUITE} signs with Ed25519 only, not {key.suite.signature_name}: on a gm chain, issue "
            "credentials with an Ed25519 key added for them (`govchain identity add-credentials-key`, "
            "a key.added event with purpose credentials)"
        )
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": utc_now() if created is None else created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in document:
        proof["@context"] = copy.deepcopy(document["@context"])
    canonical_config = proof_configuration(proof)
    transformed = transform(document, proof)
    signature = key.sign(hash_data(transformed, canonical_config))
    proof["proofValue"] = multibase_b58(signature)
    secured = copy.deepcopy(document)
    secured["proof"] = proof
    return secured


def verify_proof(
    secured: Any,
    resolve: Callable[[str], PublicKey | None],
    *,
    expected_proof_purpose: str | None = ASSERTION_METHOD,
) -> ProofCheck:
    """§3.3.2 Verify Proof, plus the Data Integrity checks on the proof's shape.

    ``resolve`` maps a verificationMethod id to its public key, or None when unknown
    (or revoked); a :class:`GovChainError` it raises counts as unknown too.
    ``expected_proof_purpose`` (default ``assertionMethod``, what an issuer uses) is
    compared with ``proofPurpose``; pass None to skip that check.
    """
    try:
        return _verify_proof(secured, resolve, expected_proof_purpose)
    except RecursionError:  # JSON nested deeper than Python can walk
        return ProofCheck(False, ProofFailure.MALFORMED_DOCUMENT, None)


def _verify_proof(
    secured: Any,
    resolve: Callable[[str], PublicKey | None],
    expected_proof_purpose: str | None,
) -> ProofCheck:
    def fail(reason: ProofFailure, vm: str | None = None) -> ProofCheck:
        return ProofCheck(False, reason, vm)

    if not isinstance(secured, Mapping):
        return fail(ProofFailure.MALFORMED_DOCUMENT)
    if "proof" not in secured:
        return fail(ProofFailure.NO_PROOF)
    proof = secured["proof"]
    if isinstance(proof, list):
        return fail(ProofFailure.PROOF_SET)
    if not isinstance(proof, Mapping):
        return fail(ProofFailure.MALFORMED_PROOF)
    if proof.get("type") != PROOF_TYPE:
        return fail(ProofFailure.UNSUPPORTED_PROOF_TYPE)
    if proof.get("cryptosuite") != CRYPTOSUITE:
        return fail(ProofFailure.UNSUPPORTED_CRYPTOSUITE)
    vm = proof.get("verificationMethod")
    if not isinstance(vm, str) or not vm:
        return fail(ProofFailure.MALFORMED_PROOF)
    purpose = proof.get("proofPurpose")
    if not isinstance(purpose, str) or not purpose:
        return fail(ProofFailure.MALFORMED_PROOF, vm)
    if expected_proof_purpose is not None and purpose != expected_proof_purpose:
        return fail(ProofFailure.PROOF_PURPOSE_MISMATCH, vm)
    if "created" in proof and parse_datetime(proof["created"], require_timezone=False) is None:
        return fail(ProofFailure.INVALID_CREATED, vm)

    # Steps 1-3: split the secured document into document, proof options and signature.
    unsecured = {name: value for name, value in secured.items() if name != "proof"}
    options = {name: value for name, value in proof.items() if name != "proofValue"}
    proof_value = proof.get("proofValue")
    try:
        if not isinstance(proof_value, str):
            raise MultikeyError("proofValue must be a multibase string")
        proof_bytes = decode_multibase_b58(proof_value)
    except MultikeyError:
        return fail(ProofFailure.MALFORMED_PROOF_VALUE, vm)
    if len(proof_bytes) != SIGNATURE_LENGTH:
        return fail(ProofFailure.MALFORMED_PROOF_VALUE, vm)

    # Step 4: the document's @context must start with the proof's; sign over the proof's.
    if "@context" in options:
        proof_context = _as_list(options["@context"])
        document_context = _as_list(secured.get("@context"))
        if document_context[: len(proof_context)] != proof_context:
            return fail(ProofFailure.CONTEXT_MISMATCH, vm)
        unsecured["@context"] = options["@context"]

    # Steps 5-7: transformation, proof configuration, hashing.
    try:
        transformed = transform(unsecured, options)
    except NestingTooDeep:
        return fail(ProofFailure.MALFORMED_DOCUMENT, vm)
    except CanonicalizationError:
        return fail(ProofFailure.NOT_CANONICALIZABLE, vm)
    try:
        canonical_config = proof_configuration(options)
    except (CanonicalizationError, CredentialError):
        return fail(ProofFailure.MALFORMED_PROOF, vm)

    # Step 8: Ed25519 verification against the resolved key.
    try:
        public_key = resolve(vm)
    except GovChainError:
        public_key = None
    if public_key is None:
        return fail(ProofFailure.UNKNOWN_VERIFICATION_METHOD, vm)
    if public_key.suite is not CREDENTIAL_SUITE:  # an SM2 key cannot make an eddsa-jcs-2022 proof
        return fail(ProofFailure.BAD_SIGNATURE, vm)
    if not public_key.verify(proof_bytes, hash_data(transformed, canonical_config)):
        return fail(ProofFailure.BAD_SIGNATURE, vm)
    return ProofCheck(True, None, vm)


def _as_list(context: Any) -> list[Any]:
    """A JSON-LD ``@context`` as a list (a single context may be given bare)."""
    if context is None:
        return []
    return list(context) if isinstance(context, list) else [context]
