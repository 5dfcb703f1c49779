"""Key encodings: round trips, and refusal of every key that is not exactly right."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from govchain.crypto import GM, INTL, CryptoSuite, KeyFormatError, sm2
from govchain.crypto.pem import armor, dearmor
from tests.crypto import oracle

SUITES = [INTL, GM]


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_round_trips(suite: CryptoSuite) -> None:
    key = suite.generate_private_key()
    assert suite.public_key_from_bytes(key.public.raw) == key.public
    assert len(key.public.raw) == suite.public_key_size
    pem = suite.public_key_to_pem(key.public)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert suite.public_key_from_pem(pem) == key.public
    private_pem = suite.private_key_to_pem(key)
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    again = suite.private_key_from_pem(private_pem)
    assert again.public == key.public
    assert suite.verify(key.public, b"m", suite.sign(again, b"m"))


def test_generated_keys_differ() -> None:
    for suite in SUITES:
        assert len({suite.generate_private_key().key_id for _ in range(5)}) == 5


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_garbage_is_refused(suite: CryptoSuite) -> None:
    for bad in (
        b"",
        b"not pem",
        b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        "é".encode(),
    ):
        with pytest.raises(KeyFormatError):
            suite.public_key_from_pem(bad)
        with pytest.raises(KeyFormatError):
            suite.private_key_from_pem(bad)
    with pytest.raises(KeyFormatError):
        suite.public_key_from_bytes(b"\x04" * 31)


def test_keys_of_the_other_suite_or_curve_are_refused_as_pem() -> None:
    intl_key, gm_key = INTL.generate_private_key(), GM.generate_private_key()
    with pytest.raises(KeyFormatError):
        INTL.public_key_from_pem(GM.public_key_to_pem(gm_key.public))
    with pytest.raises(KeyFormatError):
        INTL.private_key_from_pem(GM.private_key_to_pem(gm_key))
    with pytest.raises(KeyFormatError):
        GM.public_key_from_pem(INTL.public_key_to_pem(intl_key.public))
    with pytest.raises(KeyFormatError):
        GM.private_key_from_pem(INTL.private_key_to_pem(intl_key))
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_pub = p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError):
        GM.public_key_from_pem(p256_pub)
    with pytest.raises(KeyFormatError):
        INTL.public_key_from_pem(p256_pub)
    point = p256.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    with pytest.raises(KeyFormatError):  # a P-256 point is (almost surely) not on the SM2 curve
        GM.public_key_from_bytes(point)


def test_sm2_public_key_must_be_an_uncompressed_curve_point() -> None:
    public = GM.generate_private_key().public.raw
    x, y = int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big")
    compressed = bytes([2 + (y & 1)]) + public[1:33]
    for bad in (
        compressed,
        b"\x05" + public[1:],  # wrong prefix
        public[:-1] + bytes([public[-1] ^ 1]),  # off the curve
        b"\x04" + bytes(64),  # (0, 0) is not on the curve
        b"\x04" + x.to_bytes(32, "big") + (sm2.P - y).to_bytes(32, "big") + b"\0",  # too long
    ):
        with pytest.raises(KeyFormatError):
            GM.public_key_from_bytes(bad)
    # The other square root, -y, is a different valid point.
    negated = GM.public_key_from_bytes(b"\x04" + public[1:33] + (sm2.P - y).to_bytes(32, "big"))
    assert negated.key_id != GM.public_key_from_bytes(public).key_id


def test_sm2_coordinates_must_be_reduced_mod_p() -> None:
    """(x + p, y) satisfies the curve equation mod p; only the x < p check refuses it."""
    x = next(x for x in range(1, 100) if _sqrt(x) is not None)
    y = _sqrt(x)
    assert y is not None
    GM.public_key_from_bytes(b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big"))
    for bad in (
        b"\x04" + (x + sm2.P).to_bytes(32, "big") + y.to_bytes(32, "big"),
        b"\x04" + x.to_bytes(32, "big") + (y + sm2.P).to_bytes(32, "big") if y + sm2.P < 2**256 else b"",
    ):
        with pytest.raises(KeyFormatError):
            GM.public_key_from_bytes(bad)


def _sqrt(x: int) -> int | None:
    """A square root of x^3 + ax + b mod p, if there is one (p = 3 mod 4)."""
    rhs = (x**3 + sm2.A * x + sm2.B) % sm2.P
    y = pow(rhs, (sm2.P + 1) // 4, sm2.P)
    return y if y * y % sm2.P == rhs else None


def test_sm2_private_scalar_range() -> None:
    public = GM.generate_private_key().public.raw
    for d in (0, sm2.N - 1, sm2.N, 2**256 - 1):
        with pytest.raises(KeyFormatError):
            sm2.private_key_der(d.to_bytes(32, "big"), public)
    with pytest.raises(KeyFormatError):
        sm2.check_scalar(bytes(30) + b"\x01")


def test_sm2_pkcs8_whose_halves_do_not_belong_together_is_refused() -> None:
    a, b = GM.generate_private_key(), GM.generate_private_key()
    d_a, _ = a._handle  # type: ignore[misc]
    mixed = armor(sm2.private_key_der(d_a, b.public.raw), "PRIVATE KEY")
    with pytest.raises(KeyFormatError, match="not the private key's"):
        GM.private_key_from_pem(mixed)
    # and the fix-up the loader relies on is sound: the oracle derives a's own public key
    assert oracle.public_of(d_a) == a.public.raw


def test_sm2_pkcs8_without_public_key_is_refused_with_advice() -> None:
    key = GM.generate_private_key()
    der = dearmor(GM.private_key_to_pem(key), "PRIVATE KEY")
    d = der[36:68]
    # ECPrivateKey { 1, d } without [1] publicKey, lengths adjusted: what some tools write.
    bare = bytes.fromhex("3041020100301306072a8648ce3d020106082a811ccf5501822d042730250201010420") + d
    with pytest.raises(KeyFormatError, match="with its public key"):
        GM.private_key_from_pem(armor(bare, "PRIVATE KEY"))


def test_pem_armor_is_strict() -> None:
    der = os.urandom(91)
    pem = armor(der, "PUBLIC KEY")
    assert dearmor(pem, "PUBLIC KEY") == der
    assert dearmor(b"\n  " + pem.replace(b"\n", b"\r\n") + b"\n\n", "PUBLIC KEY") == der
    for bad in (
        pem + pem,
        pem.replace(b"PUBLIC", b"PRIVATE"),
        pem.replace(b"=", b"").replace(b"-----END", b"x-----END"),
    ):
        with pytest.raises(KeyFormatError):
            dearmor(bad, "PUBLIC KEY")
