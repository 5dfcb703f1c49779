"""AEAD: SM4-GCM against RFC 8998 A.1 and GmSSL's GCM; AES-256-GCM against the GCM spec."""

from __future__ import annotations

import os

import gmssl_pyx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import GM, INTL, CryptoError, CryptoSuite, DecryptionError
from tests.crypto import oracle

SUITES = [INTL, GM]
VECTORS = {"gm": "sm4_gcm_rfc8998.json", "intl": "aes256_gcm_mcgrew_viega.json"}


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_published_vector(suite: CryptoSuite) -> None:
    v = {k: bytes.fromhex(x) for k, x in oracle.vector(VECTORS[suite.name]).items() if k != "source"}
    sealed = suite.seal(v["key"], v["iv"], v["plaintext"], v["aad"])
    assert sealed == v["ciphertext"] + v["tag"]
    assert suite.open(v["key"], v["iv"], sealed, v["aad"]) == v["plaintext"]


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=600), st.binary(max_size=64))  # GmSSL refuses empty
def test_sm4_gcm_agrees_with_gmssl(plaintext: bytes, aad: bytes) -> None:
    """An independent GCM (GmSSL's) must produce the same bytes, and open ours."""
    key, nonce = os.urandom(16), os.urandom(12)
    sealed = GM.seal(key, nonce, plaintext, aad)
    body, tag = gmssl_pyx.sm4_gcm_encrypt(key, nonce, aad, plaintext)
    assert sealed == body + tag
    assert gmssl_pyx.sm4_gcm_decrypt(key, nonce, aad, sealed[:-16], sealed[-16:]) == plaintext


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_every_alteration_is_refused(suite: CryptoSuite) -> None:
    key, nonce = suite.generate_aead_key(), os.urandom(12)
    assert len(key) == suite.aead_key_size
    sealed = suite.seal(key, nonce, b"citizen's personal field", b"subject-1/field-a")
    for index in (0, len(sealed) // 2, len(sealed) - 17, len(sealed) - 1):
        damaged = bytearray(sealed)
        damaged[index] ^= 0x01
        with pytest.raises(DecryptionError):
            suite.open(key, nonce, bytes(damaged), b"subject-1/field-a")
    with pytest.raises(DecryptionError):
        suite.open(key, nonce, sealed, b"subject-2/field-a")  # moved to another subject
    with pytest.raises(DecryptionError):
        suite.open(suite.generate_aead_key(), nonce, sealed, b"subject-1/field-a")
    with pytest.raises(DecryptionError):
        suite.open(key, os.urandom(12), sealed, b"subject-1/field-a")
    with pytest.raises(DecryptionError):
        suite.open(key, nonce, sealed[:-1], b"subject-1/field-a")
    with pytest.raises(DecryptionError):
        suite.open(key, nonce, sealed[:15], b"subject-1/field-a")
    assert suite.open(key, nonce, sealed, b"subject-1/field-a") == b"citizen's personal field"


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_empty_plaintext_and_aad(suite: CryptoSuite) -> None:
    key, nonce = suite.generate_aead_key(), os.urandom(12)
    sealed = suite.seal(key, nonce, b"")
    assert len(sealed) == suite.aead_tag_size
    assert suite.open(key, nonce, sealed) == b""


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_wrong_key_or_nonce_sizes_are_refused(suite: CryptoSuite) -> None:
    other = 32 if suite.aead_key_size == 16 else 16
    for key, nonce in (
        (os.urandom(other), os.urandom(12)),
        (suite.generate_aead_key(), os.urandom(16)),
    ):
        with pytest.raises(CryptoError):
            suite.seal(key, nonce, b"x")
        with pytest.raises(CryptoError):
            suite.open(key, nonce, bytes(32))
