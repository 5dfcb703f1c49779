"""VC 2.0 / JSON-LD: every term of a GovChain credential is defined by a context.

VC 2.0 §4.3 wants a credential's terms defined by its ``@context``; the W3C context
(https://www.w3.org/ns/credentials/v2, vendored in tests/standards/w3c/, see README.md) has no
``@vocab``, so a term nobody defines is dropped by JSON-LD expansion (silently, unless the
processor runs in safe mode). GovChain's own terms (``TaxClearanceCredential``, ``clearance``,
``amount``...) are defined by the GovChain context, which ships in the package and which the
gateway serves at /contexts/govchain/v1.

pyld (pinned in the [test] extra) expands each credential in safe mode: the document loader
serves only the two local files (no network), a dropped property raises (pyld's
``on_property_dropped``), and every type and property must expand to an absolute IRI (the
other half of jsonld.js's ``safe: true``). The W3C eddsa-jcs-2022 vectors keep passing in
tests/unit/test_credentials.py: their credentials, proofs and bytes are untouched.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld

from govchain.protocol.credentials import (
    GOVCHAIN_CONTEXT,
    VC_V2_CONTEXT,
    add_proof,
    govchain_context,
    govchain_context_bytes,
    make_credential,
)
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.keys import SigningKey

HERE = Path(__file__).parent
VC_V2_FILE = HERE / "w3c" / "credentials-v2.jsonld"
# VC 2.0 (W3C Recommendation, 15 May 2025), §B.1 Base Context: SHA-256 of the context file.
VC_V2_SHA256 = "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"
GOVCHAIN_VOCAB = "https://govchain.example/vocab#"

KEY = SigningKey.generate()


class SafeModeError(AssertionError):
    """Expansion would lose or misread a term."""


def local_loader(documents: dict[str, bytes]) -> Callable[[str, Any], dict[str, Any]]:
    def load(url: str, _options: Any = None) -> dict[str, Any]:
        if url not in documents:
            raise SafeModeError(f"the loader serves local contexts only, not {url}")
        return {"contextUrl": None, "documentUrl": url, "document": json.loads(documents[url])}

    return load


LOCAL = {VC_V2_CONTEXT: VC_V2_FILE.read_bytes(), GOVCHAIN_CONTEXT: govchain_context_bytes()}


def _dropped(iri: str | None) -> None:
    raise SafeModeError(f"expansion dropped a property ({iri}): no context defines it")


def safe_expand(document: dict[str, Any], documents: dict[str, bytes] = LOCAL) -> list[dict[str, Any]]:
    """Expand like jsonld.js with ``safe: true``: no dropped term, no relative type or property."""
    # base None: pyld would otherwise resolve a relative IRI against its stand-in base
    # (jsonld.DEFAULT_BASE_IRI) and so hide it.
    expanded = jsonld.expand(
        copy.deepcopy(document), {"documentLoader": local_loader(documents), "base": None}, on_property_dropped=_dropped
    )
    for iri in _types_and_properties(expanded):
        if iri.startswith("@"):
            continue
        if ":" not in iri or iri.startswith(("_:", "/", jsonld.DEFAULT_BASE_IRI)):
            raise SafeModeError(f"{iri!r} expands to no absolute IRI")
    return expanded


def _types_and_properties(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _types_and_properties(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            if key == "@type" and not isinstance(value, dict):
                yield from value if isinstance(value, list) else [value]
            else:
                yield from _types_and_properties(value)


def issued(types: list[str], subject: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    credential = make_credential(
        did_for("tax"),
        {"id": did_for("c-1"), **subject},
        types,
        credential_id="urn:uuid:2b0a1f7e-5f1d-4f34-9d7c-0a8e1c1e2f33",
        valid_from="2026-01-01T00:00:00Z",
        **kwargs,
    )
    return add_proof(credential, KEY, verification_method_id("tax", KEY.key_id))


GOVCHAIN_CREDENTIALS = {
    "tax clearance": (["TaxClearanceCredential"], {"clearance": "paid", "amount": 1250}),
    "business licence": (
        ["BusinessLicenseCredential"],
        {"type": "BusinessLicence", "licenseNumber": "L-1", "licence": "street-vendor"},
    ),
    "business operator (the demo's)": (["BusinessOperatorCredential"], {"licence": "street-vendor"}),
}


def test_the_vendored_w3c_context_is_the_one_the_recommendation_fixes() -> None:
    assert hashlib.sha256(VC_V2_FILE.read_bytes()).hexdigest() == VC_V2_SHA256


@pytest.mark.parametrize(("types", "subject"), GOVCHAIN_CREDENTIALS.values(), ids=GOVCHAIN_CREDENTIALS.keys())
def test_govchain_credentials_expand_in_safe_mode(types: list[str], subject: dict[str, Any]) -> None:
    credential = issued(types, subject)
    assert credential["@context"] == [VC_V2_CONTEXT, GOVCHAIN_CONTEXT]
    (node,) = safe_expand(credential)
    assert set(node["@type"]) == {
        "https://www.w3.org/2018/credentials#VerifiableCredential",
        *(GOVCHAIN_VOCAB + t for t in types),
    }
    (claims,) = node["https://www.w3.org/2018/credentials#credentialSubject"]
    for name in subject:
        if name != "type":
            assert GOVCHAIN_VOCAB + name in claims, name
    assert "https://w3id.org/security#proof" in node


def test_the_revocation_status_type_expands_in_safe_mode() -> None:
    status = {"id": "urn:govchain:chain:main", "type": "GovChainRevocation", "chainId": "main"}
    (node,) = safe_expand(issued(["TaxClearanceCredential"], {"clearance": "paid"}, status=status))
    (entry,) = node["https://www.w3.org/2018/credentials#credentialStatus"]
    assert entry["@type"] == [GOVCHAIN_VOCAB + "GovChainRevocation"]
    assert entry[GOVCHAIN_VOCAB + "chainId"] == [{"@value": "main"}]


def test_without_the_govchain_context_the_same_credential_fails_safe_mode() -> None:
    """The fault: credentials referenced only the VC context, which defines none of these."""
    credential = make_credential(
        did_for("tax"), {"id": did_for("c-1"), "clearance": "paid"}, ["TaxClearanceCredential"], contexts=[]
    )
    assert credential["@context"] == [VC_V2_CONTEXT]
    with pytest.raises(SafeModeError):
        safe_expand(credential)
    typed_only = make_credential(did_for("tax"), {"id": did_for("c-1")}, ["TaxClearanceCredential"], contexts=[])
    with pytest.raises(SafeModeError, match="no absolute IRI"):
        safe_expand(typed_only)


def test_a_claim_no_context_defines_fails_until_its_department_adds_one() -> None:
    with pytest.raises(SafeModeError, match="dropped"):
        safe_expand(issued(["TaxClearanceCredential"], {"taxYear": "2025"}))
    land = "https://land.gov.example/contexts/tax/v1"
    extra = {land: json.dumps({"@context": {"taxYear": "https://land.gov.example/vocab#taxYear"}}).encode()}
    (node,) = safe_expand(
        issued(["TaxClearanceCredential"], {"taxYear": "2025"}, contexts=[GOVCHAIN_CONTEXT, land]), {**LOCAL, **extra}
    )
    (claims,) = node["https://www.w3.org/2018/credentials#credentialSubject"]
    assert claims["https://land.gov.example/vocab#taxYear"] == [{"@value": "2025"}]


def test_the_govchain_context_is_protected_and_redefines_nothing_of_vc() -> None:
    ours = govchain_context()["@context"]
    vc = json.loads(LOCAL[VC_V2_CONTEXT])["@context"]
    assert ours["@protected"] is True
    assert set(ours) & set(vc) == {"@protected"}
    # A later context may not quietly redefine a GovChain term (JSON-LD 1.1 protected terms).
    hijack = {**issued(["TaxClearanceCredential"], {"clearance": "paid"})}
    hijack["@context"] = [*hijack["@context"], {"clearance": "https://evil.example/vocab#clearance"}]
    with pytest.raises(jsonld.JsonLdError):
        safe_expand(hijack)


# --------------------------------------------------------------------------- served by the gateway


@pytest.fixture
def gateway_client() -> Iterator[Any]:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from govchain.services.gateway import contexts
    from govchain.services.gateway.limits import limiter

    app = FastAPI()
    app.state.limiter = limiter
    app.include_router(contexts.router)
    with TestClient(app) as client:
        yield client


def test_the_gateway_serves_the_package_context_at_its_stable_path(gateway_client: Any) -> None:
    response = gateway_client.get("/contexts/govchain/v1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert response.content == govchain_context_bytes()
    assert response.headers["access-control-allow-origin"] == "*"
    etag = response.headers["etag"]
    assert etag == f'"sha256-{hashlib.sha256(response.content).hexdigest()}"'
    again = gateway_client.get("/contexts/govchain/v1", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert gateway_client.head("/contexts/govchain/v1").status_code == 200
    assert GOVCHAIN_CONTEXT.endswith("/contexts/govchain/v1")

    # What the gateway serves is what a verifier pins: expansion with it succeeds in safe mode.
    served = {**LOCAL, GOVCHAIN_CONTEXT: response.content}
    safe_expand(issued(["TaxClearanceCredential"], {"clearance": "paid", "amount": 3}), served)
