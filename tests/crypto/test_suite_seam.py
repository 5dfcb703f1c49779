"""The seam itself: the registry, the Protocol, key ownership and compatibility with today."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from govchain.crypto import (
    DEFAULT_SUITE,
    GM,
    INTL,
    SUITE_NAMES,
    CryptoSuite,
    KeyFormatError,
    SuiteMismatchError,
    UnknownSuiteError,
    suite_by_name,
)
from govchain.protocol.keys import SigningKey, key_id_of

SUITES = [INTL, GM]


def test_registry_names_both_profiles() -> None:
    assert SUITE_NAMES == ("intl", "gm")
    assert DEFAULT_SUITE == "intl"
    assert suite_by_name("intl") is INTL
    assert suite_by_name("gm") is GM
    for bad in ("", "GM", "sm2", "international", "intl "):
        with pytest.raises(UnknownSuiteError):
            suite_by_name(bad)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_suites_satisfy_the_protocol_and_are_frozen(suite: CryptoSuite) -> None:
    assert isinstance(suite, CryptoSuite)
    with pytest.raises(AttributeError):
        suite.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        suite.anything = 1  # type: ignore[attr-defined]
    assert suite.hash_size == len(suite.hash(b"")) == 32
    assert suite.signature_size == 64
    assert suite.aead_nonce_size == 12 and suite.aead_tag_size == 16


def test_names_of_the_algorithms() -> None:
    assert (INTL.hash_name, INTL.signature_name, INTL.aead_name, INTL.mac_name) == (
        "SHA-256",
        "Ed25519",
        "AES-256-GCM",
        "HMAC-SHA-256",
    )
    assert (GM.hash_name, GM.signature_name, GM.aead_name, GM.mac_name) == (
        "SM3",
        "SM2-with-SM3",
        "SM4-GCM",
        "HMAC-SM3",
    )
    assert (INTL.aead_key_size, GM.aead_key_size) == (32, 16)
    assert (INTL.public_key_size, GM.public_key_size) == (32, 65)
    assert GM.distinguishing_id == b"1234567812345678"


def test_intl_keeps_todays_key_ids_and_signatures() -> None:
    """An intl chain must hash and sign exactly as govchain.protocol.keys always has."""
    old = SigningKey.generate()
    new = INTL.private_key_from_pem(old.to_pem())
    assert new.key_id == old.key_id == key_id_of(old.public.raw)
    assert new.public.raw == old.public.raw
    message = b"an event's JCS bytes"
    assert INTL.sign(new, message) == old.sign(message)  # Ed25519 is deterministic
    assert old.public.verify(INTL.sign(new, message), message)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_key_id_is_the_suite_hash_of_the_raw_public_key(suite: CryptoSuite) -> None:
    key = suite.generate_private_key()
    assert key.key_id == suite.key_id(key.public) == suite.hash(key.public.raw).hex()
    assert suite.key_id_of(key.public.raw) == key.key_id
    assert key.public.hex == key.public.raw.hex()
    if suite is INTL:
        assert key.key_id == hashlib.sha256(key.public.raw).hexdigest()


def test_a_key_of_one_suite_is_refused_by_the_other() -> None:
    intl_key, gm_key = INTL.generate_private_key(), GM.generate_private_key()
    for suite, foreign in ((INTL, gm_key), (GM, intl_key)):
        with pytest.raises(SuiteMismatchError):
            suite.sign(foreign, b"m")
        with pytest.raises(SuiteMismatchError):
            suite.verify(foreign.public, b"m", bytes(64))
        with pytest.raises(SuiteMismatchError):
            suite.public_key_to_pem(foreign.public)
        with pytest.raises(SuiteMismatchError):
            suite.private_key_to_pem(foreign)
        with pytest.raises(SuiteMismatchError):
            suite.key_id(foreign.public)
    # Raw bytes of one suite are not a key of the other either.
    with pytest.raises(KeyFormatError):
        GM.public_key_from_bytes(intl_key.public.raw)
    with pytest.raises(KeyFormatError):
        INTL.public_key_from_bytes(gm_key.public.raw)


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_private_key_repr_shows_no_key_material(suite: CryptoSuite) -> None:
    key = suite.generate_private_key()
    text = repr(key) + str(key)
    pem_body = b"".join(suite.private_key_to_pem(key).splitlines()[1:-1]).decode()
    assert key.key_id in text
    assert pem_body[:16] not in text
    assert "handle" not in text


def test_no_profile_checks_outside_the_crypto_package() -> None:
    """Callers get a suite object; only govchain.crypto may compare profile names."""
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"""(==|!=)\s*["'](gm|intl)["']|["'](gm|intl)["']\s*(==|!=)""")
    crypto_dir = root / "shared" / "govchain" / "crypto"
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for base in (root / "shared", root / "services")
        if base.is_dir()
        for path in base.rglob("*.py")
        if crypto_dir not in path.parents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == [], "use suite_by_name(...) and the suite's methods instead"
