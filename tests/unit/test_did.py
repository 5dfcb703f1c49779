"""did:govchain identifiers, DID documents and the Multikey encoding they carry.

Multikey is checked against the published W3C key pair (tests/unit/vectors/eddsa_jcs_2022.json,
from w3c/vc-di-eddsa, Appendix B.3) before our own round trips.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from govchain.protocol.did import (
    DidError,
    did_document,
    did_for,
    is_did,
    parse_verification_method,
    principal_of,
    verification_method_id,
)
from govchain.protocol.errors import GovChainError
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.multikey import (
    MultikeyError,
    b58decode,
    b58encode,
    decode_multibase_b58,
    multibase_b58,
    public_key_from_multibase,
    public_key_multibase,
    secret_key_multibase,
    signing_key_from_multibase,
)

VECTOR = json.loads((Path(__file__).parent / "vectors" / "eddsa_jcs_2022.json").read_text())

# --------------------------------------------------------------------------- multikey


def test_published_public_multikey_decodes_to_an_ed25519_key() -> None:
    decoded = decode_multibase_b58(VECTOR["publicKeyMultibase"])
    assert decoded[:2] == b"\xed\x01" and len(decoded) == 34
    key = public_key_from_multibase(VECTOR["publicKeyMultibase"])
    assert key.raw == decoded[2:]
    assert public_key_multibase(key) == VECTOR["publicKeyMultibase"]
    assert VECTOR["publicKeyMultibase"].startswith("z6Mk")


def test_published_secret_multikey_decodes_to_the_matching_signing_key() -> None:
    decoded = decode_multibase_b58(VECTOR["secretKeyMultibase"])
    assert decoded[:2] == b"\x80\x26" and len(decoded) == 34
    key = signing_key_from_multibase(VECTOR["secretKeyMultibase"])
    assert public_key_multibase(key.public) == VECTOR["publicKeyMultibase"]
    assert secret_key_multibase(decoded[2:]) == VECTOR["secretKeyMultibase"]


@given(st.binary(max_size=80))
def test_base58_round_trips_including_leading_zeros(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data
    assert decode_multibase_b58(multibase_b58(data)) == data


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"\x00", "1"),
        (b"\x00\x00\x01", "112"),
        (b"hello world", "StV1DL6CwTryKyV"),
        (bytes.fromhex("00eb15231dfceb60925886b67d065299925915aeb172c06647"), "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"),
    ],
)
def test_base58_known_values(data: bytes, text: str) -> None:
    assert b58encode(data) == text
    assert b58decode(text) == data


def test_public_multikey_round_trips_for_fresh_keys() -> None:
    for _ in range(20):
        key = SigningKey.generate().public
        encoded = public_key_multibase(key)
        assert encoded.startswith("z6Mk")
        assert public_key_from_multibase(encoded) == key


def test_secret_multikey_round_trips() -> None:
    key = SigningKey.generate()
    seed = key._private.private_bytes(  # noqa: SLF001 - the test needs the raw seed
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    restored = signing_key_from_multibase(secret_key_multibase(seed))
    assert restored.public == key.public
    assert restored.sign(b"m") == key.sign(b"m")


RAW = bytes(range(32))


@pytest.mark.parametrize(
    "value",
    [
        multibase_b58(b"\x80\x26" + RAW),  # a secret key where a public key is expected
        multibase_b58(b"\xe7\x01" + RAW[:1] + RAW),  # secp256k1-pub prefix
        multibase_b58(b"\x12\x00" + RAW + b"\x00"),  # P-256 prefix
        multibase_b58(RAW),  # no prefix at all
        multibase_b58(b"\xed\x01" + RAW[:31]),  # too short
        multibase_b58(b"\xed\x01" + RAW + b"\x00"),  # too long
        multibase_b58(b""),
        "z",
        "",
        "u7QE" + "A" * 43,  # base64url multibase of an Ed25519 key
        "z6Mk0OIl",  # characters outside the base58btc alphabet
        "Z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    ],
)
def test_public_key_from_multibase_refuses_anything_else(value: str) -> None:
    with pytest.raises(MultikeyError):
        public_key_from_multibase(value)


@pytest.mark.parametrize(
    "value",
    [
        VECTOR["publicKeyMultibase"],  # a public key where a secret key is expected
        multibase_b58(b"\x80\x26" + RAW[:31]),
        multibase_b58(b"\x81\x26" + RAW),
        "not multibase",
    ],
)
def test_signing_key_from_multibase_refuses_anything_else(value: str) -> None:
    with pytest.raises(MultikeyError):
        signing_key_from_multibase(value)


def test_multikey_errors_are_govchain_errors() -> None:
    assert issubclass(MultikeyError, GovChainError)
    with pytest.raises(MultikeyError):
        decode_multibase_b58(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- DIDs

KEY_ID = "ab" * 32


@pytest.mark.parametrize("principal", ["a", "0", "dept-tax", "citizen_9f3a", "x" * 63, "a-_-b"])
def test_did_round_trips(principal: str) -> None:
    did = did_for(principal)
    assert did == f"did:govchain:{principal}"
    assert principal_of(did) == principal
    vm = verification_method_id(principal, KEY_ID)
    assert vm == f"did:govchain:{principal}#{KEY_ID}"
    assert parse_verification_method(vm) == (principal, KEY_ID)


@given(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True))
def test_any_valid_principal_round_trips(principal: str) -> None:
    assert principal_of(did_for(principal)) == principal


BAD_PRINCIPALS = ["", "-dept", "_dept", "Dept", "dept tax", "dept.tax", "x" * 64, "dépt", "a\n", "a:b", "a#b"]


@pytest.mark.parametrize("principal", BAD_PRINCIPALS)
def test_did_for_refuses_bad_principal_ids(principal: str) -> None:
    with pytest.raises(DidError):
        did_for(principal)
    with pytest.raises(DidError):
        verification_method_id(principal, KEY_ID)


@pytest.mark.parametrize(
    "did",
    [
        "did:govchain:",
        "did:govchain:Dept",
        "did:govchain:dept\n",
        "did:govchain:dept#key",
        "did:govchain:dept/path",
        "did:govchain:dept?query",
        "did:govchain:dept:sub",
        "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        "DID:govchain:dept",
        "did:GovChain:dept",
        "govchain:dept",
        "dept",
        " did:govchain:dept",
        "",
        None,
        42,
    ],
)
def test_principal_of_refuses_anything_else(did: object) -> None:
    with pytest.raises(DidError):
        principal_of(did)  # type: ignore[arg-type]


@pytest.mark.parametrize("key_id", ["", "AB" * 32, "ab" * 31, "ab" * 33, "zz" * 32, KEY_ID + "\n", None])
def test_verification_method_id_refuses_bad_key_ids(key_id: object) -> None:
    with pytest.raises(DidError):
        verification_method_id("dept", key_id)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "vm",
    [
        "did:govchain:dept",
        f"did:govchain:dept#{KEY_ID}#x",
        f"did:govchain:Dept#{KEY_ID}",
        "did:govchain:dept#key-1",
        f"did:key:dept#{KEY_ID}",
        f"#{KEY_ID}",
        f"https://vc.example/issuers/dept#{KEY_ID}",
        None,
    ],
)
def test_parse_verification_method_refuses_anything_else(vm: object) -> None:
    with pytest.raises(DidError):
        parse_verification_method(vm)  # type: ignore[arg-type]


def test_did_error_is_a_govchain_error() -> None:
    assert issubclass(DidError, GovChainError)


# --------------------------------------------------------------------------- DID documents


def test_did_document_structure() -> None:
    first, second = SigningKey.generate().public, SigningKey.generate().public
    document = did_document(
        "dept-commerce",
        controller="did:govchain:root",
        keys=[(first.key_id, first), (second.key_id, second)],
        also_known_as=["https://commerce.gov.example"],
    )
    did = "did:govchain:dept-commerce"
    vm1, vm2 = f"{did}#{first.key_id}", f"{did}#{second.key_id}"
    assert document == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "controller": "did:govchain:root",
        "alsoKnownAs": ["https://commerce.gov.example"],
        "verificationMethod": [
            {
                "id": vm1,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_key_multibase(first),
            },
            {
                "id": vm2,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_key_multibase(second),
            },
        ],
        "authentication": [vm1, vm2],
        "assertionMethod": [vm1, vm2],
    }
    json.dumps(document)  # plain JSON


def test_did_document_multikeys_decode_back_to_the_keys() -> None:
    keys = [SigningKey.generate().public for _ in range(3)]
    document = did_document("citizen-1", controller=None, keys=[(k.key_id, k) for k in keys])
    decoded = {
        method["id"]: public_key_from_multibase(method["publicKeyMultibase"])
        for method in document["verificationMethod"]
    }
    assert decoded == {verification_method_id("citizen-1", k.key_id): k for k in keys}
    for vm_id, key in decoded.items():
        assert parse_verification_method(vm_id) == ("citizen-1", key.key_id)


def test_did_document_without_controller_aliases_or_keys() -> None:
    # DID Core §5.3.1/§5.3.2: authentication and assertionMethod are optional, and when present
    # hold one or more methods; a deactivated DID (no usable key) therefore has neither, and
    # no empty verificationMethod either (§5.2: optional).
    document = did_document("dept-a", controller=None, keys=[])
    assert document == {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": "did:govchain:dept-a",
    }


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("did:govchain:tax", True),
        ("did:web:example.org", True),
        ("did:example:123456789abcdefghi", True),
        ("did:web:example.org%3A3000:user:alice", True),
        ("did:govchain:Dept", True),  # valid DID syntax, though not a valid did:govchain id
        ("did:govchain:", False),
        ("did:Web:example.org", False),
        ("did:web:example.org#key-1", False),
        ("did:web:example.org/path", False),
        ("did:web:example.org:", False),
        ("did:web:%zz", False),
        ("did::x", False),
        ("not-a-did", False),
        ("", False),
        (None, False),
    ],
)
def test_is_did_follows_did_core_syntax(value: object, valid: bool) -> None:
    assert is_did(value) is valid


def test_did_document_matches_the_published_multikey() -> None:
    key = public_key_from_multibase(VECTOR["publicKeyMultibase"])
    document = did_document("issuer", controller=None, keys=[(key.key_id, key)])
    assert document["verificationMethod"][0]["publicKeyMultibase"] == VECTOR["publicKeyMultibase"]


def test_did_document_refuses_bad_input() -> None:
    key = SigningKey.generate().public
    other = SigningKey.generate().public
    good = [(key.key_id, key)]
    with pytest.raises(DidError):
        did_document("Bad", controller=None, keys=good)
    with pytest.raises(DidError):
        did_document("dept", controller="root", keys=good)
    with pytest.raises(DidError):
        did_document("dept", controller="did:govchain:root#key", keys=good)
    with pytest.raises(DidError):
        did_document("dept", controller=None, keys=[(other.key_id, key)])
    with pytest.raises(DidError):
        did_document("dept", controller=None, keys=good + good)
    with pytest.raises(DidError):
        did_document("dept", controller=None, keys=[(key.key_id, key.hex)])  # type: ignore[list-item]
    with pytest.raises(ValueError):  # a key of no suite cannot even be made, let alone listed
        PublicKey(b"x")
    with pytest.raises(DidError):
        did_document("dept", controller=None, keys=good, also_known_as=["not a uri"])
