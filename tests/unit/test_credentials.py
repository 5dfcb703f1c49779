"""VC 2.0 credentials with eddsa-jcs-2022 proofs: the W3C vectors first, our own cases second.

Published vectors, copied into tests/unit/vectors/ (each file names its source):

- eddsa_jcs_2022.json: w3c/vc-di-eddsa, transitions/2025/REC/index.html, Appendix B.3 of the
  W3C Recommendation "Data Integrity EdDSA Cryptosuites v1.0": key pair, unsecured credential,
  canonical forms, hashes, signature and signed credential (verificationMethod did:key:...).
- eddsa_jcs_2022_editors_draft.json: w3c/vc-di-eddsa, TestVectors/eddsa-jcs-2022/signedJCS.json
  and friends, the later editor's-draft vector with an https verificationMethod.

Ed25519 is deterministic, so creating the proof must give the published proofValue exactly.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain.protocol.canonical import canonical_bytes, sha256
from govchain.protocol.credentials import (
    GOVCHAIN_CONTEXT,
    VC_V2_CONTEXT,
    CredentialError,
    ProofCheck,
    ProofFailure,
    add_proof,
    credential_time_problem,
    govchain_context,
    govchain_context_bytes,
    hash_data,
    make_credential,
    proof_configuration,
    transform,
    verify_proof,
)
from govchain.protocol.did import (
    DidError,
    did_document,
    did_for,
    parse_verification_method,
    verification_method_id,
)
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.multikey import (
    decode_multibase_b58,
    multibase_b58,
    public_key_from_multibase,
    public_key_multibase,
    signing_key_from_multibase,
)

VECTORS = Path(__file__).parent / "vectors"
REC = json.loads((VECTORS / "eddsa_jcs_2022.json").read_text(encoding="utf-8"))
DRAFT = json.loads((VECTORS / "eddsa_jcs_2022_editors_draft.json").read_text(encoding="utf-8"))

VECTOR_KEY = signing_key_from_multibase(REC["secretKeyMultibase"])
VECTOR_PUBLIC = public_key_from_multibase(REC["publicKeyMultibase"])
REC_VM = REC["proofOptions"]["verificationMethod"]
CREATED = REC["proofOptions"]["created"]


def vector_resolver(vm: str) -> PublicKey | None:
    """Resolves the two verification methods the W3C vectors use."""
    known = {REC_VM, DRAFT["proofOptions"]["verificationMethod"]}
    return VECTOR_PUBLIC if vm in known else None


def any_vm_resolver(_vm: str) -> PublicKey | None:
    """Resolves every id to the vector key, so only the signature can fail."""
    return VECTOR_PUBLIC


def secured_vector() -> dict[str, Any]:
    return copy.deepcopy(REC["signedCredential"])


# --------------------------------------------------------------------------- the W3C vectors


def test_vector_key_pair_decodes_to_each_other() -> None:
    assert VECTOR_KEY.public == VECTOR_PUBLIC
    assert public_key_multibase(VECTOR_KEY.public) == REC["publicKeyMultibase"]


def test_vector_transformation_is_the_published_canonical_credential() -> None:
    transformed = transform(REC["unsecuredCredential"], REC["proofOptions"])
    assert transformed == REC["canonicalCredential"].encode("utf-8")
    assert sha256(transformed).hex() == REC["credentialHashHex"]


def test_vector_proof_configuration_is_the_published_canonical_form() -> None:
    canonical = proof_configuration(REC["proofOptions"])
    assert canonical == REC["canonicalProofOptions"].encode("utf-8")
    assert sha256(canonical).hex() == REC["proofOptionsHashHex"]


def test_vector_hash_data_is_proof_hash_then_document_hash() -> None:
    data = hash_data(
        transform(REC["unsecuredCredential"], REC["proofOptions"]),
        proof_configuration(REC["proofOptions"]),
    )
    assert data.hex() == REC["combinedHashHex"]
    assert VECTOR_KEY.sign(data).hex() == REC["signatureHex"]
    assert multibase_b58(bytes.fromhex(REC["signatureHex"])) == REC["signatureBase58btc"]


def test_add_proof_reproduces_the_published_signed_credential() -> None:
    unsecured = copy.deepcopy(REC["unsecuredCredential"])
    secured = add_proof(unsecured, VECTOR_KEY, REC_VM, created=CREATED)
    assert secured == REC["signedCredential"]
    assert secured["proof"]["proofValue"] == REC["signatureBase58btc"]
    assert list(secured["proof"]) == list(REC["signedCredential"]["proof"])
    assert unsecured == REC["unsecuredCredential"], "add_proof must not touch its input"
    assert "proof" not in unsecured


def test_published_signed_credential_verifies() -> None:
    check = verify_proof(REC["signedCredential"], vector_resolver)
    assert check == ProofCheck(True, None, REC_VM)


def test_editors_draft_vector_is_reproduced_and_verifies() -> None:
    vm = DRAFT["proofOptions"]["verificationMethod"]
    secured = add_proof(REC["unsecuredCredential"], VECTOR_KEY, vm, created=CREATED)
    assert secured == DRAFT["signedCredential"]
    assert decode_multibase_b58(secured["proof"]["proofValue"]).hex() == DRAFT["signatureHex"]
    assert proof_configuration(DRAFT["proofOptions"]) == canonical_bytes(DRAFT["proofOptions"])
    assert verify_proof(DRAFT["signedCredential"], vector_resolver) == ProofCheck(True, None, vm)


# --------------------------------------------------------------------------- tampering


def _set(path: tuple[str, ...], value: Any) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value

    return mutate


def _delete(name: str) -> Any:
    return lambda doc: doc.pop(name)


CREDENTIAL_TAMPERING = {
    "name": _set(("name",), "Forged Credential"),
    "issuer": _set(("issuer",), "https://vc.example/issuers/9999"),
    "validFrom": _set(("validFrom",), "2022-01-01T00:00:00Z"),
    "subject claim": _set(("credentialSubject", "alumniOf"), "Another School"),
    "subject id": _set(("credentialSubject", "id"), "did:example:mallory"),
    "type": _set(("type",), ["VerifiableCredential", "DegreeCredential"]),
    "id": _set(("id",), "urn:uuid:00000000-0000-0000-0000-000000000000"),
    "added field": _set(("validUntil",), "2099-01-01T00:00:00Z"),
    "removed field": _delete("description"),
    "number instead of string": _set(("credentialSubject", "alumniOf"), 1),
}


@pytest.mark.parametrize("mutate", CREDENTIAL_TAMPERING.values(), ids=CREDENTIAL_TAMPERING.keys())
def test_tampering_with_the_credential_breaks_the_signature(mutate: Any) -> None:
    secured = secured_vector()
    mutate(secured)
    assert verify_proof(secured, vector_resolver) == ProofCheck(False, ProofFailure.BAD_SIGNATURE, REC_VM)


def test_changing_the_document_context_is_a_context_mismatch() -> None:
    secured = secured_vector()
    secured["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    check = verify_proof(secured, vector_resolver)
    assert check == ProofCheck(False, "context mismatch", REC_VM)
    secured.pop("@context")
    assert verify_proof(secured, vector_resolver).reason == ProofFailure.CONTEXT_MISMATCH


def test_context_appended_after_signing_still_verifies_as_the_spec_says() -> None:
    # §3.3.2 step 4: only a prefix equal to proof.@context is required, and the document is
    # verified with proof.@context; appended contexts are not covered by the signature.
    secured = secured_vector()
    secured["@context"].append("https://vc.example/extra/v1")
    assert verify_proof(secured, vector_resolver).valid


def test_changed_created_breaks_the_signature() -> None:
    secured = secured_vector()
    secured["proof"]["created"] = "2023-02-24T23:36:39Z"
    assert verify_proof(secured, vector_resolver).reason == "signature does not verify"


def test_created_that_is_not_a_datetime_is_refused() -> None:
    secured = secured_vector()
    secured["proof"]["created"] = "yesterday"
    assert verify_proof(secured, vector_resolver) == ProofCheck(False, "invalid created", REC_VM)


def test_changed_verification_method_breaks_the_signature_even_with_the_same_key() -> None:
    secured = secured_vector()
    other = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#other"
    secured["proof"]["verificationMethod"] = other
    assert verify_proof(secured, any_vm_resolver) == ProofCheck(False, ProofFailure.BAD_SIGNATURE, other)


def test_unknown_verification_method() -> None:
    secured = secured_vector()
    secured["proof"]["verificationMethod"] = "did:example:nobody#key-1"
    assert verify_proof(secured, vector_resolver) == ProofCheck(
        False, "unknown verification method", "did:example:nobody#key-1"
    )


def test_resolver_refusing_the_id_counts_as_unknown() -> None:
    def strict(vm: str) -> PublicKey | None:
        parse_verification_method(vm)  # raises DidError: did:key is not did:govchain
        return VECTOR_PUBLIC

    assert verify_proof(secured_vector(), strict).reason == ProofFailure.UNKNOWN_VERIFICATION_METHOD


def test_signature_by_another_key_does_not_verify() -> None:
    other = SigningKey.generate()
    assert verify_proof(secured_vector(), lambda _vm: other.public).reason == ("signature does not verify")


def _flip_last_char(value: str) -> str:
    return value[:-1] + ("2" if value[-1] != "2" else "3")


PROOF_TAMPERING = {
    "proofValue last char": (
        lambda p: p.update(proofValue=_flip_last_char(p["proofValue"])),
        ProofFailure.BAD_SIGNATURE,
    ),
    "proofValue other signature": (
        lambda p: p.update(proofValue=multibase_b58(bytes(64))),
        ProofFailure.BAD_SIGNATURE,
    ),
    "proofValue not multibase": (
        lambda p: p.update(proofValue="u" + p["proofValue"][1:]),
        ProofFailure.MALFORMED_PROOF_VALUE,
    ),
    "proofValue not base58": (
        lambda p: p.update(proofValue="z0OIl"),
        ProofFailure.MALFORMED_PROOF_VALUE,
    ),
    "proofValue truncated": (
        lambda p: p.update(proofValue=p["proofValue"][:-5]),
        ProofFailure.MALFORMED_PROOF_VALUE,
    ),
    "proofValue missing": (lambda p: p.pop("proofValue"), ProofFailure.MALFORMED_PROOF_VALUE),
    "proofValue number": (lambda p: p.update(proofValue=7), ProofFailure.MALFORMED_PROOF_VALUE),
    "proof @context removed": (lambda p: p.pop("@context"), ProofFailure.BAD_SIGNATURE),
    "field added to proof": (
        lambda p: p.update(domain="vc.example"),
        ProofFailure.BAD_SIGNATURE,
    ),
    "cryptosuite": (
        lambda p: p.update(cryptosuite="eddsa-rdfc-2022"),
        ProofFailure.UNSUPPORTED_CRYPTOSUITE,
    ),
    "cryptosuite missing": (lambda p: p.pop("cryptosuite"), ProofFailure.UNSUPPORTED_CRYPTOSUITE),
    "type": (lambda p: p.update(type="Ed25519Signature2020"), ProofFailure.UNSUPPORTED_PROOF_TYPE),
    "proofPurpose": (
        lambda p: p.update(proofPurpose="authentication"),
        ProofFailure.PROOF_PURPOSE_MISMATCH,
    ),
    "proofPurpose missing": (lambda p: p.pop("proofPurpose"), ProofFailure.MALFORMED_PROOF),
}


@pytest.mark.parametrize(("mutate", "reason"), PROOF_TAMPERING.values(), ids=PROOF_TAMPERING.keys())
def test_tampering_with_the_proof_fails_with_its_reason(mutate: Any, reason: str) -> None:
    secured = secured_vector()
    mutate(secured["proof"])
    check = verify_proof(secured, vector_resolver)
    assert not check.valid
    assert check.reason == reason


def test_changed_proof_purpose_is_still_signed_when_purpose_is_not_checked() -> None:
    secured = secured_vector()
    secured["proof"]["proofPurpose"] = "authentication"
    check = verify_proof(secured, vector_resolver, expected_proof_purpose=None)
    assert check.reason == ProofFailure.BAD_SIGNATURE


def test_missing_proof() -> None:
    assert verify_proof(REC["unsecuredCredential"], vector_resolver) == ProofCheck(False, "no proof", None)


def test_proof_set_is_refused() -> None:
    secured = secured_vector()
    secured["proof"] = [secured["proof"]]
    assert verify_proof(secured, vector_resolver).reason == ProofFailure.PROOF_SET


# --------------------------------------------------------------------------- garbage in


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


def _with_proof_of(value: Any) -> dict[str, Any]:
    secured = secured_vector()
    secured["proof"] = value
    return secured


def _with_field(name: str, value: Any) -> dict[str, Any]:
    secured = secured_vector()
    secured[name] = value
    return secured


def _with_proof_field(name: str, value: Any) -> dict[str, Any]:
    secured = secured_vector()
    secured["proof"][name] = value
    return secured


F = ProofFailure
GARBAGE = {
    "None": (None, F.MALFORMED_DOCUMENT),
    "int": (7, F.MALFORMED_DOCUMENT),
    "string": ("not a credential", F.MALFORMED_DOCUMENT),
    "list": ([REC["signedCredential"]], F.MALFORMED_DOCUMENT),
    "bytes": (b"{}", F.MALFORMED_DOCUMENT),
    "empty": ({}, F.NO_PROOF),
    "proof None": (_with_proof_of(None), F.MALFORMED_PROOF),
    "proof string": (_with_proof_of("zabc"), F.MALFORMED_PROOF),
    "proof empty": (_with_proof_of({}), F.UNSUPPORTED_PROOF_TYPE),
    "proof number keys": (_with_proof_of({1: 2}), F.UNSUPPORTED_PROOF_TYPE),
    "vm number": (_with_proof_field("verificationMethod", 5), F.MALFORMED_PROOF),
    "vm empty": (_with_proof_field("verificationMethod", ""), F.MALFORMED_PROOF),
    "created number": (_with_proof_field("created", 20230224), F.INVALID_CREATED),
    "proof context dict": (
        _with_proof_field("@context", {"@vocab": "https://x.example/"}),
        F.CONTEXT_MISMATCH,
    ),
    "proof context number": (_with_proof_field("@context", 3), F.CONTEXT_MISMATCH),
    "document NaN": (_with_field("score", float("nan")), F.NOT_CANONICALIZABLE),
    "document huge int": (_with_field("serial", 2**60), F.NOT_CANONICALIZABLE),
    "document bytes": (_with_field("blob", b"\x00"), F.NOT_CANONICALIZABLE),
    "document non-str key": (_with_field("claims", {1: "one"}), F.NOT_CANONICALIZABLE),
    "document set": (_with_field("tags", {"a", "b"}), F.NOT_CANONICALIZABLE),
    "document deeply nested": (_with_field("deep", _nested(5000)), F.MALFORMED_DOCUMENT),
    "proof field infinity": (_with_proof_field("nonce", float("inf")), F.MALFORMED_PROOF),
    "both contexts deeply nested": (
        {
            **_with_proof_field("@context", [_nested(5000)]),
            "@context": [_nested(5000)],
        },
        F.MALFORMED_DOCUMENT,
    ),
}


@pytest.mark.parametrize(("garbage", "reason"), GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_never_raises(garbage: Any, reason: str) -> None:
    check = verify_proof(garbage, vector_resolver)
    assert isinstance(check, ProofCheck)
    assert not check.valid
    assert check.reason == reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
PROOF_KEYS = st.sampled_from(
    ["type", "cryptosuite", "created", "verificationMethod", "proofPurpose", "@context", "proofValue"]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=PROOF_KEYS, value=JSON)
def test_any_value_in_any_proof_field_is_a_failure_not_an_exception(name: str, value: Any) -> None:
    secured = _with_proof_field(name, value)
    check = verify_proof(secured, vector_resolver)
    if check.valid:  # only the original value (or an equal one) can still verify
        assert secured["proof"][name] == REC["signedCredential"]["proof"][name]
    else:
        assert check.reason in set(ProofFailure)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=JSON)
def test_any_json_value_as_document_never_raises(document: Any) -> None:
    assert not verify_proof(document, vector_resolver).valid


# --------------------------------------------------------------------------- issuing


def test_add_proof_defaults_created_to_now_and_verifies() -> None:
    key = SigningKey.generate()
    vm = verification_method_id("dept-tax", key.key_id)
    secured = add_proof({"@context": ["https://www.w3.org/ns/credentials/v2"]}, key, vm)
    assert secured["proof"]["created"].endswith("Z")
    assert verify_proof(secured, lambda v: key.public if v == vm else None).valid


def test_document_without_context_gets_a_proof_without_context() -> None:
    key = SigningKey.generate()
    secured = add_proof({"hello": "world"}, key, "did:govchain:x#k", created=CREATED)
    assert "@context" not in secured["proof"]
    assert verify_proof(secured, lambda _vm: key.public).valid


def test_proof_made_without_context_step_still_verifies() -> None:
    # Some implementations skip §3.3.1 step 2; the verifier then uses the document's context.
    options = {k: v for k, v in REC["proofOptions"].items() if k != "@context"}
    data = hash_data(transform(REC["unsecuredCredential"], options), proof_configuration(options))
    secured = {
        **REC["unsecuredCredential"],
        "proof": {**options, "proofValue": multibase_b58(VECTOR_KEY.sign(data))},
    }
    assert verify_proof(secured, vector_resolver).valid


@pytest.mark.parametrize(
    ("document", "kwargs"),
    [
        ("not a dict", {}),
        ({"proof": {}}, {}),
        ({}, {"created": "24 Feb 2023"}),
        ({}, {"proof_purpose": ""}),
    ],
    ids=["not a dict", "already has proof", "bad created", "empty purpose"],
)
def test_add_proof_refuses_bad_input(document: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(CredentialError):
        add_proof(document, VECTOR_KEY, REC_VM, **kwargs)


def test_add_proof_refuses_an_empty_verification_method() -> None:
    with pytest.raises(CredentialError):
        add_proof({}, VECTOR_KEY, "")


def test_proof_configuration_refuses_other_suites() -> None:
    with pytest.raises(CredentialError):
        proof_configuration({**REC["proofOptions"], "cryptosuite": "ecdsa-jcs-2019"})
    with pytest.raises(CredentialError):
        transform({}, {**REC["proofOptions"], "type": "Ed25519Signature2020"})


# --------------------------------------------------------------------------- credentials


def test_make_credential_builds_a_vc_2_document() -> None:
    subject = {"id": "did:govchain:biz-0042", "license": {"number": "L-1"}}
    status = {"id": "https://gov.example/status/1#7", "type": "BitstringStatusListEntry"}
    vc = make_credential(
        "did:govchain:dept-commerce",
        subject,
        ["BusinessLicenseCredential", "VerifiableCredential"],
        credential_id="urn:uuid:7f1c8f58-5c1e-4a8e-9f57-7d3c1c9f1a01",
        valid_from="2025-01-01T00:00:00Z",
        valid_until="2026-01-01T00:00:00+08:00",
        status=status,
    )
    assert vc == {
        "@context": ["https://www.w3.org/ns/credentials/v2", GOVCHAIN_CONTEXT],
        "id": "urn:uuid:7f1c8f58-5c1e-4a8e-9f57-7d3c1c9f1a01",
        "type": ["VerifiableCredential", "BusinessLicenseCredential"],
        "issuer": "did:govchain:dept-commerce",
        "validFrom": "2025-01-01T00:00:00Z",
        "validUntil": "2026-01-01T00:00:00+08:00",
        "credentialSubject": subject,
        "credentialStatus": status,
    }
    subject["license"]["number"] = "changed"
    assert vc["credentialSubject"]["license"]["number"] == "L-1", "the subject is copied"


def test_make_credential_minimal() -> None:
    vc = make_credential("did:govchain:dept-a", {"id": "did:govchain:c1"}, [])
    assert vc == {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://govchain.example/contexts/govchain/v1"],
        "type": ["VerifiableCredential"],
        "issuer": "did:govchain:dept-a",
        "credentialSubject": {"id": "did:govchain:c1"},
    }


def test_make_credential_contexts_follow_the_vc_context_once_each() -> None:
    extra = "https://land.gov.example/contexts/parcels/v1"
    inline = {"parcelId": "https://land.gov.example/vocab#parcelId"}
    vc = make_credential("did:govchain:land", {}, [], contexts=[GOVCHAIN_CONTEXT, extra, inline, extra])
    assert vc["@context"] == [VC_V2_CONTEXT, GOVCHAIN_CONTEXT, extra, inline]
    assert make_credential("did:govchain:land", {}, [], contexts=[])["@context"] == [VC_V2_CONTEXT]
    for bad in ("https://x.example/v1", ["not a url"], [3]):
        with pytest.raises(CredentialError):
            make_credential("did:govchain:land", {}, [], contexts=bad)  # type: ignore[arg-type]


def test_the_govchain_context_ships_in_the_package_and_defines_the_govchain_terms() -> None:
    document = govchain_context()
    assert json.loads(govchain_context_bytes()) == document
    terms = document["@context"]
    assert terms["@protected"] is True
    for term in (
        "TaxClearanceCredential",
        "BusinessLicenseCredential",
        "BusinessOperatorCredential",
        "BusinessLicence",
        "GovChainRevocation",
        "clearance",
        "licence",
        "amount",
    ):
        assert term in terms, term
    document["@context"].clear()
    assert govchain_context()["@context"], "each call returns a fresh copy"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"issuer": "dept-a"},
        {"subject": ["not", "a", "dict"]},
        {"types": "BusinessLicense"},
        {"types": [""]},
        {"credential_id": "not-a-url"},
        {"valid_from": "2025-01-01"},
        {"valid_until": "2025-01-01T00:00:00"},
        {"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2025-01-01T00:00:00Z"},
        {"status": "revoked"},
    ],
)
def test_make_credential_refuses_bad_input(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"issuer": "did:govchain:dept-a", "subject": {}, "types": []}
    arguments.update(kwargs)
    issuer, subject, types = arguments.pop("issuer"), arguments.pop("subject"), arguments.pop("types")
    with pytest.raises(CredentialError):
        make_credential(issuer, subject, types, **arguments)


BOUNDED = {"validFrom": "2025-01-01T00:00:00Z", "validUntil": "2025-12-31T23:59:59+08:00"}


@pytest.mark.parametrize(
    ("now", "problem"),
    [
        ("2024-12-31T23:59:59.999999Z", "not yet valid"),
        ("2025-01-01T00:00:00Z", None),
        ("2025-01-01T08:00:00+08:00", None),
        ("2025-06-01T12:00:00.123456Z", None),
        ("2025-12-31T15:59:59Z", None),
        ("2025-12-31T15:59:59.000001Z", "expired"),
        ("2026-01-01T00:00:00Z", "expired"),
    ],
)
def test_credential_time_problem(now: str, problem: str | None) -> None:
    assert credential_time_problem(BOUNDED, now) == problem


def test_credential_time_problem_reports_bad_values_without_raising() -> None:
    now = "2025-06-01T00:00:00Z"
    assert credential_time_problem({}, now) is None
    assert credential_time_problem({"validFrom": "soon"}, now) == "malformed validFrom"
    assert credential_time_problem({"validUntil": 5}, now) == "malformed validUntil"
    assert credential_time_problem({"validFrom": "2025-01-01T00:00:00"}, now) == ("malformed validFrom")
    assert (
        credential_time_problem({"validFrom": "2025-02-01T00:00:00Z", "validUntil": "2025-01-01T00:00:00Z"}, now)
        == "validUntil precedes validFrom"
    )
    assert credential_time_problem(None, now) == "malformed credential"
    assert credential_time_problem(REC["signedCredential"], now) is None


def test_credential_time_problem_refuses_a_bad_now() -> None:
    with pytest.raises(CredentialError):
        credential_time_problem(BOUNDED, "now")


# --------------------------------------------------------------------------- end to end


def test_credential_issued_with_a_did_key_verifies_through_its_did_document() -> None:
    issuer_key, revoked_key = SigningKey.generate(), SigningKey.generate()
    issuer = did_for("dept-commerce")
    vc = make_credential(
        issuer,
        {"id": did_for("biz-0042"), "licenseNumber": "L-1"},
        ["BusinessLicenseCredential"],
        valid_from="2025-01-01T00:00:00Z",
    )
    vm = verification_method_id("dept-commerce", issuer_key.key_id)
    secured = add_proof(vc, issuer_key, vm)
    stale = add_proof(vc, revoked_key, verification_method_id("dept-commerce", revoked_key.key_id))
    document = did_document("dept-commerce", controller=None, keys=[(issuer_key.key_id, issuer_key.public)])

    def resolve(vm_id: str) -> PublicKey | None:
        principal, _key_id = parse_verification_method(vm_id)
        if did_for(principal) != document["id"] or vm_id not in document["assertionMethod"]:
            return None
        for method in document["verificationMethod"]:
            if method["id"] == vm_id:
                return public_key_from_multibase(method["publicKeyMultibase"])
        return None

    assert verify_proof(secured, resolve) == ProofCheck(True, None, vm)
    assert verify_proof(stale, resolve).reason == ProofFailure.UNKNOWN_VERIFICATION_METHOD
    with pytest.raises(DidError):
        parse_verification_method(REC_VM)
    assert verify_proof(REC["signedCredential"], resolve).reason == "unknown verification method"


# --------------------------------------------------------------------------- keys over time (chain rules)

from dataclasses import dataclass, field  # noqa: E402

from govchain.protocol.state import ChainState, KeyRecord, Principal  # noqa: E402
from govchain.services.identity.verification import resolve_did, verify_credential  # noqa: E402

ROTATED_AT = 5
RETIRED_AT_TIME = "2026-06-01T12:00:00.000000Z"  # time of the block at the old key's valid_until
NOW = "2026-07-01T00:00:00Z"


@dataclass
class ChainDirectory:
    """The verification Directory over an in-memory chain state, as the SQL projection answers."""

    state: ChainState
    height: int
    retirements: dict[str, tuple[int, str]] = field(default_factory=dict)

    def principal(self, principal_id: str) -> Principal | None:
        return self.state.principals.get(principal_id)

    def key(self, key_id: str) -> KeyRecord | None:
        return self.state.keys.get(key_id)

    def keys_of(self, principal_id: str) -> list[KeyRecord]:
        return [r for r in self.state.keys.values() if r.owner == principal_id]

    def revocation(self, credential_id: str, issuer: str) -> tuple[str, int] | None:
        return None

    def retirement(self, key_id: str) -> tuple[int, str] | None:
        return self.retirements.get(key_id)


def rotated_tax(grace: int, height: int) -> tuple[ChainDirectory, SigningKey, SigningKey]:
    """Department ``tax`` whose first key was rotated out at ROTATED_AT with ``grace`` blocks."""
    old, new = SigningKey.generate(), SigningKey.generate()
    state = ChainState(chain_id="unit")
    state.add_principal(Principal("tax", "department", "Tax", "tax"))
    state.add_key(old.public, "tax")
    state.height = ROTATED_AT
    state.add_key(new.public, "tax")
    state.keys[old.key_id].valid_until = ROTATED_AT + grace
    directory = ChainDirectory(state, height)
    if height >= ROTATED_AT + grace:  # the projection has applied the old key's last block
        directory.retirements[old.key_id] = (ROTATED_AT + grace, RETIRED_AT_TIME)
    return directory, old, new


def tax_credential(key: SigningKey, created: str | None, *, valid_from: str | None = None) -> dict[str, Any]:
    vc = make_credential(
        did_for("tax"),
        {"id": did_for("c-1"), "clearance": "paid"},
        ["TaxClearanceCredential"],
        credential_id="urn:unit:1",
        valid_from=valid_from,
    )
    vm = verification_method_id("tax", key.key_id)
    if created is not None:
        return add_proof(vc, key, vm, created=created)
    # A proof without ``created`` (optional in Data Integrity), signed by the spec's steps.
    proof: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": vm,
        "proofPurpose": "assertionMethod",
        "@context": vc["@context"],
    }
    signature = key.sign(hash_data(transform(vc, proof), proof_configuration(proof)))
    return {**vc, "proof": {**proof, "proofValue": multibase_b58(signature)}}


def test_a_credential_issued_before_a_routine_rotation_stays_valid_after_it() -> None:
    directory, old, _new = rotated_tax(grace=0, height=ROTATED_AT + 10)
    before = tax_credential(old, "2026-06-01T11:59:59Z")
    assert verify_credential(before, directory, NOW).valid
    at_the_cut = tax_credential(old, RETIRED_AT_TIME)
    assert verify_credential(at_the_cut, directory, NOW).valid


def test_a_credential_issued_with_a_key_after_its_retirement_fails_with_the_reason() -> None:
    directory, old, new = rotated_tax(grace=0, height=ROTATED_AT + 10)
    after = tax_credential(old, "2026-06-01T12:00:01Z")
    verdict = verify_credential(after, directory, NOW)
    assert not verdict.valid
    assert verdict.reason == (
        f"issuer key {old.key_id} was rotated out at height {ROTATED_AT} ({RETIRED_AT_TIME}), "
        "before the credential was issued (2026-06-01T12:00:01Z)"
    )
    assert verify_credential(tax_credential(new, "2026-06-01T12:00:01Z"), directory, NOW).valid


def test_without_a_proof_time_the_issuance_is_valid_from_and_without_either_it_fails() -> None:
    directory, old, _new = rotated_tax(grace=0, height=ROTATED_AT + 10)
    early = tax_credential(old, None, valid_from="2026-05-01T00:00:00Z")
    assert verify_credential(early, directory, NOW).valid
    late = tax_credential(old, None, valid_from="2026-06-02T00:00:00Z")
    assert "before the credential was issued (2026-06-02T00:00:00Z)" in (
        verify_credential(late, directory, NOW).reason or ""
    )
    undated = tax_credential(old, None)
    reason = verify_credential(undated, directory, NOW).reason or ""
    assert reason.endswith("the credential does not say when it was issued")


def test_a_rotated_key_issues_through_its_grace_blocks() -> None:
    directory, old, _new = rotated_tax(grace=3, height=ROTATED_AT + 2)  # block ROTATED_AT + 3 not yet applied
    assert verify_credential(tax_credential(old, "2030-01-01T00:00:00Z"), directory, NOW).valid


def test_a_retired_key_without_a_known_retirement_time_fails_closed() -> None:
    directory, old, _new = rotated_tax(grace=0, height=ROTATED_AT + 1)
    directory.retirements.clear()  # e.g. a projection migrated after the key retired
    verdict = verify_credential(tax_credential(old, "2020-01-01T00:00:00Z"), directory, NOW)
    assert not verdict.valid and "retirement time is not known" in (verdict.reason or "")


def test_a_revoked_key_fails_every_credential_whenever_issued() -> None:
    directory, old, _new = rotated_tax(grace=0, height=ROTATED_AT + 10)
    record = directory.state.keys[old.key_id]
    record.revoked_height, record.revocation_reason = ROTATED_AT + 4, "compromised"
    verdict = verify_credential(tax_credential(old, "2020-01-01T00:00:00Z"), directory, NOW)
    assert verdict.reason == f"issuer key {old.key_id} was revoked at height {ROTATED_AT + 4} (compromised)"


def test_did_documents_list_only_keys_that_can_sign_the_next_block() -> None:
    def listed(directory: ChainDirectory) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        result = resolve_did(did_for("tax"), directory)
        document = result["didDocument"]
        methods = document.get("verificationMethod", [])
        ids = [m["id"].split("#")[1] for m in methods]
        if methods:
            assert document["assertionMethod"] == document["authentication"] == [m["id"] for m in methods]
        else:  # DID Core §5.3.1/§5.3.2: present only with one or more methods
            assert {"verificationMethod", "authentication", "assertionMethod"}.isdisjoint(document)
        return (
            ids,
            [k["key_id"] for k in result["didDocumentMetadata"]["retiredKeys"]],
            result["didDocumentMetadata"]["revokedKeys"],
        )

    in_grace, old, new = rotated_tax(grace=2, height=ROTATED_AT + 1)  # old key may still sign block +2
    assert listed(in_grace) == ([old.key_id, new.key_id], [], [])
    past_grace, old, new = rotated_tax(grace=2, height=ROTATED_AT + 2)  # block +2 is sealed: old key is done
    assert listed(past_grace) == ([new.key_id], [old.key_id], [])
    past_grace.state.keys[new.key_id].revoked_height = ROTATED_AT + 2
    past_grace.state.keys[new.key_id].revocation_reason = "lost"
    ids, retired, revoked = listed(past_grace)
    assert ids == [] and retired == [old.key_id]
    assert revoked == [{"key_id": new.key_id, "height": str(ROTATED_AT + 2), "reason": "lost"}]
    metadata = resolve_did(did_for("tax"), past_grace)["didDocumentMetadata"]
    assert metadata["deactivated"] is True
    assert metadata["retiredKeys"] == [{"key_id": old.key_id, "valid_until": str(ROTATED_AT + 2)}]
    assert metadata["as_of_height"] == str(ROTATED_AT + 2)


# --------------------------------------------------------------------------- the CLI (no network)

import uuid  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from govchain.services.cli.identity import credential_app  # noqa: E402


@pytest.mark.parametrize("to_file", [True, False], ids=["--out", "stdout"])
def test_credential_issue_without_id_gives_a_urn_uuid(tmp_path: Path, to_file: bool) -> None:
    """`govchain credential issue` without --id: the help promises a urn:uuid; the command
    wrote a credential without ``id`` and then crashed with KeyError 'id'."""
    key = SigningKey.generate()
    key_file = tmp_path / "tax.pem"
    key.save(key_file)
    out = tmp_path / "vc.json"
    args = [
        "issue",
        "--key",
        str(key_file),
        "--issuer",
        "tax",
        "--type",
        "TaxClearanceCredential",
        "--subject",
        json.dumps({"id": did_for("c-1"), "clearance": "paid"}),
    ]
    result = CliRunner().invoke(credential_app, [*args, "--out", str(out)] if to_file else args)
    assert result.exit_code == 0, result.output
    assert result.exception is None
    credential = json.loads(out.read_text() if to_file else result.stdout)
    assert credential["id"] == uuid.UUID(credential["id"].removeprefix("urn:uuid:")).urn
    assert credential["@context"] == [VC_V2_CONTEXT, GOVCHAIN_CONTEXT]
    vm = verification_method_id("tax", key.key_id)
    assert verify_proof(credential, lambda v: key.public if v == vm else None).valid
    if to_file:
        assert credential["id"] in result.stderr


def test_credential_issue_keeps_a_given_id_and_adds_contexts(tmp_path: Path) -> None:
    key = SigningKey.generate()
    key_file = tmp_path / "land.pem"
    key.save(key_file)
    extra = "https://land.gov.example/contexts/parcels/v1"
    result = CliRunner().invoke(
        credential_app,
        [
            "issue",
            "--key",
            str(key_file),
            "--issuer",
            "land",
            "--type",
            "BusinessLicenseCredential",
            "--subject",
            "{}",
            "--id",
            "urn:cli:7",
            "--context",
            extra,
        ],
    )
    assert result.exit_code == 0, result.output
    credential = json.loads(result.stdout)
    assert credential["id"] == "urn:cli:7"
    assert credential["@context"] == [VC_V2_CONTEXT, GOVCHAIN_CONTEXT, extra]
    refused = CliRunner().invoke(
        credential_app,
        ["issue", "--key", str(key_file), "--issuer", "land", "--type", "X", "--subject", "{}", "--id", "no-colon"],
    )
    assert refused.exit_code == 2 and refused.exception is not None and isinstance(refused.exception, SystemExit)
