"""DID resolution results from GovChain's resolver over a small chain state, and the same
results written as W3C did-test-suite implementation files.

The chain state has the cases DID Core distinguishes: a department (controller: the root), an
official (controller: its department) with two keys, an official whose only key was revoked
(deactivated), a department whose old key was rotated out (retired). The resolution inputs add
an unknown principal (notFound), strings that are no DID (invalidDid) and a DID of another
method (methodNotSupported).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govchain.protocol.keys import SigningKey
from govchain.protocol.state import ChainState, KeyRecord, Principal
from govchain.services.identity.verification import resolve_did


@dataclass
class ChainDirectory:
    """The identity service's Directory over an in-memory chain state."""

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


def _key(name: str) -> SigningKey:
    """A fixed key per name, so the generated suite files are reproducible."""
    return SigningKey(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest()))


def chain_directory() -> ChainDirectory:
    state = ChainState(chain_id="standards")
    state.add_principal(Principal("root", "root", "Root authority"))
    state.height = 1
    state.add_principal(Principal("tax", "department", "Tax Bureau", "tax"))
    state.add_key(_key("tax").public, "tax")
    state.height = 2
    state.add_principal(Principal("tax-clerk", "official", "Clerk", "tax", {"issuer"}))
    state.add_key(_key("tax-clerk").public, "tax-clerk")
    state.add_key(_key("tax-clerk-2").public, "tax-clerk")
    state.add_principal(Principal("tax-leaver", "official", "Leaver", "tax"))
    state.add_key(_key("tax-leaver").public, "tax-leaver")
    state.height = 3
    state.add_principal(Principal("land", "department", "Land Bureau", "land"))
    state.add_key(_key("land-old").public, "land")
    state.height = 5
    state.add_key(_key("land-new").public, "land")
    state.keys[_key("land-old").key_id].valid_until = 6
    state.touch("land")
    state.height = 7
    leaver = state.keys[_key("tax-leaver").key_id]
    leaver.revoked_height, leaver.revocation_reason = 7, "left office"
    directory = ChainDirectory(state, height=9)
    directory.retirements[_key("land-old").key_id] = (6, "2026-01-01T00:00:06.000000Z")
    return directory


ACTIVE = ["did:govchain:tax", "did:govchain:tax-clerk", "did:govchain:land"]
DEACTIVATED = ["did:govchain:tax-leaver"]
NOT_FOUND = ["did:govchain:nobody"]
INVALID = ["did:govchain:", "did:govchain:tax#key", "did:example_222", "not-a-did"]
INVALID_FOR_THE_METHOD = ["did:govchain:Tax"]  # DID syntax, but no did:govchain principal id
OTHER_METHOD = ["did:web:example.org"]


def resolutions() -> dict[str, dict[str, Any]]:
    directory = chain_directory()
    dids = [*ACTIVE, *DEACTIVATED, *NOT_FOUND, *INVALID, *INVALID_FOR_THE_METHOD, *OTHER_METHOD]
    # Through JSON, as the NATS API and `govchain did resolve --json` deliver them.
    return {did: json.loads(json.dumps(resolve_did(did, directory))) for did in dids}


# --------------------------------------------------------------------------- did-test-suite files


def suite_implementation_files() -> dict[str, dict[str, Any]]:
    """did-test-suite inputs (packages/did-core-test-server/suites/implementations/), in the
    format its README asks: one DID-method file (for the did-identifier, did-core-properties,
    did-production and did-consumption suites) and one resolver file (did-resolution)."""
    results = resolutions()
    method: dict[str, Any] = {
        "didMethod": "did:govchain",
        "implementation": "GovChain identity service",
        "implementer": "GovChain",
        "supportedContentTypes": ["application/did+ld+json"],
        "dids": [*ACTIVE, *DEACTIVATED],
    }
    for did in method["dids"]:
        document = results[did]["didDocument"]
        properties = {k: v for k, v in document.items() if k != "@context"}
        method[did] = {
            "didDocumentDataModel": {"properties": properties},
            "application/did+ld+json": {
                "didDocumentDataModel": {"representationSpecificEntries": {"@context": document["@context"]}},
                "representation": json.dumps(document, ensure_ascii=False),
                "didDocumentMetadata": results[did]["didDocumentMetadata"],
                # The representation's media type: what resolveRepresentation would report.
                "didResolutionMetadata": {"contentType": "application/did+ld+json"},
            },
        }
    executions, outcomes = (
        [],
        {
            "defaultOutcome": [],
            "invalidDidErrorOutcome": [],
            "notFoundErrorOutcome": [],
            "representationNotSupportedErrorOutcome": [],
            "deactivatedOutcome": [],
        },
    )
    for did in [*ACTIVE, *DEACTIVATED, *NOT_FOUND, *INVALID]:
        outcome = (
            "deactivatedOutcome"
            if did in DEACTIVATED
            else "notFoundErrorOutcome"
            if did in NOT_FOUND
            else "invalidDidErrorOutcome"
            if did in INVALID
            else "defaultOutcome"
        )
        outcomes[outcome].append(len(executions))
        executions.append(
            {"function": "resolve", "input": {"did": did, "resolutionOptions": {}}, "output": results[did]}
        )
    # The suite requires one resolveRepresentation execution: the JSON-LD bytes of a document.
    did = ACTIVE[0]
    outcomes["defaultOutcome"].append(len(executions))
    executions.append(
        {
            "function": "resolveRepresentation",
            "input": {"did": did, "resolutionOptions": {"accept": "application/did+ld+json"}},
            "output": {
                "didResolutionMetadata": {"contentType": "application/did+ld+json"},
                "didDocumentStream": json.dumps(results[did]["didDocument"], ensure_ascii=False),
                "didDocumentMetadata": results[did]["didDocumentMetadata"],
            },
        }
    )
    resolver = {
        "implementation": "GovChain identity service",
        "implementer": "GovChain",
        "didMethod": "did:govchain",
        "expectedOutcomes": outcomes,
        "executions": executions,
    }
    return {"did-govchain.json": method, "resolver-govchain.json": resolver}
