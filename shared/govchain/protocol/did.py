"""``did:govchain`` identifiers and their DID documents (W3C DID Core 1.0).

A GovChain principal (department, official, citizen pseudonym, service) is the DID
``did:govchain:<principal_id>``; each of its keys is the verification method
``did:govchain:<principal_id>#<key_id>``, where the key id is the SHA-256 of the key.
Because the fragment pins the key material, a verification method id can never be
re-bound to another key. DID documents are built from the chain's key state by the
caller, who passes only the keys that can still sign (neither revoked nor rotated out past
their grace blocks; see ``govchain.services.identity.verification.resolve_did``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from govchain.protocol.errors import GovChainError
from govchain.protocol.keys import PublicKey
from govchain.protocol.multikey import public_key_multibase

DID_PREFIX = "did:govchain:"
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"

_PRINCIPAL_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_KEY_ID = re.compile(r"[0-9a-f]{64}")
# DID Core §3.1 syntax: did:<method-name>:<method-specific-id>, no path/query/fragment.
_ANY_DID = re.compile(r"did:[a-z0-9]+:(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2}|:)*(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})")


class DidError(GovChainError):
    """A DID, principal id, key id or verification method id is malformed."""


def is_principal_id(value: object) -> bool:
    """True for a valid principal id (lowercase, 1-63 chars, starting alphanumeric)."""
    return isinstance(value, str) and _PRINCIPAL_ID.fullmatch(value) is not None


def is_did(value: object) -> bool:
    """True for any DID in DID Core §3.1 syntax (any method), without path, query or fragment."""
    return isinstance(value, str) and _ANY_DID.fullmatch(value) is not None


def did_for(principal_id: str) -> str:
    """The DID of a principal."""
    if not is_principal_id(principal_id):
        raise DidError(f"not a principal id: {principal_id!r}")
    return DID_PREFIX + principal_id


def principal_of(did: str) -> str:
    """The principal id named by a ``did:govchain`` DID; anything else is refused."""
    if not isinstance(did, str) or not did.startswith(DID_PREFIX):
        raise DidError(f"not a did:govchain DID: {did!r}")
    principal_id = did[len(DID_PREFIX) :]
    if not is_principal_id(principal_id):
        raise DidError(f"not a did:govchain DID: {did!r}")
    return principal_id


def verification_method_id(principal_id: str, key_id: str) -> str:
    """The id of a principal's key as a verification method: ``<did>#<key_id>``."""
    if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
        raise DidError(f"not a key id (64 lowercase hex digits): {key_id!r}")
    return f"{did_for(principal_id)}#{key_id}"


def parse_verification_method(vm: str) -> tuple[str, str]:
    """``(principal_id, key_id)`` of a ``did:govchain`` verification method id."""
    if not isinstance(vm, str) or vm.count("#") != 1:
        raise DidError(f"not a did:govchain verification method: {vm!r}")
    did, key_id = vm.split("#")
    principal_id = principal_of(did)
    if _KEY_ID.fullmatch(key_id) is None:
        raise DidError(f"not a did:govchain verification method: {vm!r}")
    return principal_id, key_id


def did_document(
    principal_id: str,
    *,
    controller: str | None,
    keys: Sequence[tuple[str, PublicKey]],
    also_known_as: Sequence[str] = (),
) -> dict[str, Any]:
    """The DID document of a principal with its currently usable keys.

    ``keys`` are ``(key_id, public_key)`` pairs; each key id must be the key's own id.
    Every key becomes a ``Multikey`` verification method usable for ``authentication``
    and ``assertionMethod``. ``controller`` (e.g. the root authority's DID) is written
    only when given; each key's controller is the principal itself. Without keys the
    document has no ``verificationMethod``, ``authentication`` or ``assertionMethod`` at
    all: DID Core allows each to be absent but not an empty ``authentication`` or
    ``assertionMethod``.
    """
    did = did_for(principal_id)
    document: dict[str, Any] = {"@context": [DID_CONTEXT, MULTIKEY_CONTEXT], "id": did}
    if controller is not None:
        if not is_did(controller):
            raise DidError(f"controller must be a DID: {controller!r}")
        document["controller"] = controller
    aliases = list(also_known_as)
    if not all(isinstance(alias, str) and ":" in alias for alias in aliases):
        raise DidError("alsoKnownAs entries must be URIs")
    if aliases:
        document["alsoKnownAs"] = aliases
    methods: list[dict[str, str]] = []
    for key_id, public_key in keys:
        if not isinstance(public_key, PublicKey):
            raise DidError(f"key {key_id!r} is not a public key")
        if key_id != public_key.key_id:
            raise DidError(f"key id {key_id!r} is not the id of the key given with it")
        vm_id = verification_method_id(principal_id, key_id)
        if any(method["id"] == vm_id for method in methods):
            raise DidError(f"key {key_id} is listed twice")
        methods.append(
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_key_multibase(public_key),
            }
        )
    if methods:
        # DID Core §5.2 and §5.3.1/§5.3.2: these properties are optional, and authentication
        # and assertionMethod, when present, hold one or more methods. A principal without a
        # usable key (a deactivated DID) has none of the three.
        document["verificationMethod"] = methods
        document["authentication"] = [method["id"] for method in methods]
        document["assertionMethod"] = [method["id"] for method in methods]
    return document
