"""Signatures: Ed25519 against RFC 8032, SM2 against GB/T 32918.5 Annex A, and refusals."""

from __future__ import annotations

import os

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from govchain.crypto import GM, INTL, CryptoError, CryptoSuite, PrivateKey, sm2
from govchain.crypto.pem import armor
from tests.crypto import oracle

SUITES = [INTL, GM]
SM2_VECTOR = oracle.vector("sm2_gbt32918_5.json")


def _ed25519_from_seed(seed: bytes) -> PrivateKey:
    pem = Ed25519PrivateKey.from_private_bytes(seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return INTL.private_key_from_pem(pem)


def _sm2_vector_key() -> tuple[bytes, bytes]:
    v = SM2_VECTOR
    return bytes.fromhex(v["private_key"]), bytes.fromhex("04" + v["public_key_x"] + v["public_key_y"])


# -- Ed25519, RFC 8032 ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", oracle.vector("ed25519_rfc8032.json")["vectors"], ids=lambda c: c["name"])
def test_ed25519_rfc8032(case: dict[str, str]) -> None:
    key = _ed25519_from_seed(bytes.fromhex(case["secret_key"]))
    message, signature = bytes.fromhex(case["message"]), bytes.fromhex(case["signature"])
    assert key.public.hex == case["public_key"]
    assert INTL.sign(key, message) == signature
    public = INTL.public_key_from_bytes(bytes.fromhex(case["public_key"]))
    assert INTL.verify(public, message, signature)
    assert not INTL.verify(public, message + b"\0", signature)


# -- SM2, GB/T 32918.5 Annex A -------------------------------------------------------------------


def test_sm2_curve_is_the_recommended_one() -> None:
    c = SM2_VECTOR["curve"]
    assert tuple(int(c[k], 16) for k in ("p", "a", "b", "n", "gx", "gy")) == (
        sm2.P,
        sm2.A,
        sm2.B,
        sm2.N,
        sm2.GX,
        sm2.GY,
    )
    assert SM2_VECTOR["id"].encode() == sm2.DEFAULT_ID


def test_sm2_z_and_e_match_the_standard() -> None:
    _, public = _sm2_vector_key()
    message = SM2_VECTOR["message"].encode()
    assert sm2.z_value(public).hex() == SM2_VECTOR["z"]
    assert sm2.message_digest(public, message).hex() == SM2_VECTOR["e"]


def test_sm2_published_signature_verifies() -> None:
    _, public = _sm2_vector_key()
    signature = bytes.fromhex(SM2_VECTOR["r"] + SM2_VECTOR["s"])
    key = GM.public_key_from_bytes(public)
    message = SM2_VECTOR["message"].encode()
    assert GM.verify(key, message, signature)
    assert oracle.verify(public, message, signature)
    assert not GM.verify(key, b"message digesT", signature)


def test_sm2_fixed_k_reproduces_r_and_s() -> None:
    """GmSSL draws k itself, so the fixed-k equation is run by the oracle, on our e."""
    private, public = _sm2_vector_key()
    assert oracle.public_of(private) == public
    e = sm2.message_digest(public, SM2_VECTOR["message"].encode())
    k = bytes.fromhex(SM2_VECTOR["k"])
    assert oracle.sign_digest_with_k(private, public, e, k).hex() == SM2_VECTOR["r"] + SM2_VECTOR["s"]


def test_sm2_the_standards_key_signs_through_the_suite() -> None:
    private, public = _sm2_vector_key()
    key = GM.private_key_from_pem(armor(sm2.private_key_der(private, public), "PRIVATE KEY"))
    message = SM2_VECTOR["message"].encode()
    signature = GM.sign(key, message)
    assert signature != GM.sign(key, message)  # a fresh k every time
    assert GM.verify(key.public, message, signature)
    assert oracle.verify(public, message, signature)


def test_sm2_other_identifiers_follow_gmssls_own_z() -> None:
    """Our Z for a non-default ID equals the one GmSSL computes inside sm2_verify."""
    key = GM.generate_private_key()
    d, _ = key._handle  # type: ignore[misc]
    uid = b"ALICE123@YAHOO.COM"
    message = b"message digest"
    raw = sm2.sign_digest(d, sm2.message_digest(key.public.raw, message, uid))
    der = sm2.signature_to_der(raw)
    assert gmssl_pyx.sm2_verify(key.public.raw[1:], message, der, signer_id=uid)
    assert not gmssl_pyx.sm2_verify(key.public.raw[1:], message, der)  # default ID differs
    with pytest.raises(CryptoError):
        sm2.z_value(key.public.raw, b"x" * 8192)


# -- refusals, both suites -----------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_wrong_key_and_tampered_message_are_refused(suite: CryptoSuite) -> None:
    key, other = suite.generate_private_key(), suite.generate_private_key()
    message = b'{"type":"license.issued","id":"1"}'
    signature = suite.sign(key, message)
    assert len(signature) == suite.signature_size
    assert suite.verify(key.public, message, signature)
    assert not suite.verify(other.public, message, signature)
    assert not suite.verify(key.public, message[:-1] + b"!", signature)
    assert not suite.verify(key.public, message + b" ", signature)
    assert not suite.verify(key.public, b"", signature)
    for index in (0, 31, 32, 63):
        damaged = bytearray(signature)
        damaged[index] ^= 0x01
        assert not suite.verify(key.public, message, bytes(damaged))


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_malformed_signatures_are_false_not_errors(suite: CryptoSuite) -> None:
    key = suite.generate_private_key()
    message = b"m"
    signature = suite.sign(key, message)
    n = sm2.N.to_bytes(32, "big")
    for bad in (
        b"",
        signature[:63],
        signature + b"\0",
        bytes(64),
        b"\xff" * 64,
        bytes(32) + signature[32:],  # r = 0
        signature[:32] + bytes(32),  # s = 0
        n + signature[32:],  # r = n
        signature[:32] + n,  # s = n
        sm2.signature_to_der(signature) if suite is GM else signature * 2,  # DER is not the wire form
    ):
        assert suite.verify(key.public, message, bad) is False


def test_sm2_signature_der_conversion_is_strict() -> None:
    key = GM.generate_private_key()
    raw = GM.sign(key, b"m")
    der = sm2.signature_to_der(raw)
    assert sm2.signature_from_der(der) == raw
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    assert der == encode_dss_signature(r, s)
    for bad in (
        der + b"\0",  # trailing bytes
        der[:-1],
        encode_dss_signature(0, s),
        encode_dss_signature(r, sm2.N),
        b"\x30\x81" + bytes([len(der) - 2]) + der[2:],  # non-minimal length (BER)
        os.urandom(70),
    ):
        with pytest.raises(CryptoError):
            sm2.signature_from_der(bad)
    with pytest.raises(CryptoError):
        sm2.signature_to_der(raw[:63])
