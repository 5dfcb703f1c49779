"""SM3 (GB/T 32905), SM4 (GB/T 32907) and the MACs, against the standards' examples.

The gm suite's SM3 is GmSSL's; OpenSSL's (through ``cryptography``) and the pure-Python
oracle must agree with it on the published examples and on arbitrary input. SM4 is not
exposed by the suite on its own, but SM4-GCM runs on OpenSSL's SM4 block cipher, so the
block cipher is checked here against GB/T 32907, including the 1,000,000-round example.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm4 as oracle_sm4
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import GM, INTL
from govchain.crypto.sm2 import sm3
from tests.crypto import oracle


def _openssl_sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


@pytest.mark.parametrize("case", oracle.vector("sm3_gbt32905.json")["vectors"], ids=lambda c: c["name"])
def test_sm3_standard_examples(case: dict[str, str]) -> None:
    message, digest = bytes.fromhex(case["message_hex"]), bytes.fromhex(case["digest"])
    assert GM.hash(message) == digest
    assert _openssl_sm3(message) == digest
    assert oracle.sm3(message) == digest


def test_sm3_examples_are_the_ones_the_standard_states() -> None:
    cases = oracle.vector("sm3_gbt32905.json")["vectors"]
    assert bytes.fromhex(cases[0]["message_hex"]) == b"abc"
    assert bytes.fromhex(cases[1]["message_hex"]) == b"abcd" * 16


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_sm3_agrees_with_two_other_implementations(data: bytes) -> None:
    assert GM.hash(data) == _openssl_sm3(data) == oracle.sm3(data)


def test_hash_accepts_any_bytes_like() -> None:
    for suite in (INTL, GM):
        assert suite.hash(bytearray(b"abc")) == suite.hash(memoryview(b"abc")) == suite.hash(b"abc")
    assert sm3(b"") == bytes.fromhex("1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b")


def test_sha256_is_sha256() -> None:
    assert INTL.hash(b"abc") == hashlib.sha256(b"abc").digest()
    assert INTL.empty_root.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_sm4_standard_example_one_block() -> None:
    v = oracle.vector("sm4_gbt32907.json")
    key, plain, cipher = (bytes.fromhex(v[k]) for k in ("key", "plaintext", "ciphertext"))
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert enc.update(plain) + enc.finalize() == cipher
    dec = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()
    assert dec.update(cipher) + dec.finalize() == plain
    assert _oracle_ecb(key, plain) == cipher


def _oracle_ecb(key: bytes, block: bytes) -> bytes:
    c = oracle_sm4.CryptSM4()
    c.set_key(key, oracle_sm4.SM4_ENCRYPT)
    return bytes(c.crypt_ecb(block))[:16]  # the oracle always pads (PKCS#7): keep block one


def test_sm4_standard_example_one_million_rounds() -> None:
    """GB/T 32907 Appendix A example 2; about half a second with OpenSSL's SM4."""
    v = oracle.vector("sm4_gbt32907.json")
    key = bytes.fromhex(v["key"])
    block = bytes.fromhex(v["plaintext"])
    update = Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update
    for _ in range(v["iterations"]):
        block = update(block)
    assert block.hex() == v["ciphertext_after_iterations"]


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.binary(max_size=200))
def test_hmac_sm3_agrees_with_gmssl(key: bytes, data: bytes) -> None:
    """HMAC-SM3: OpenSSL (the suite's) against GmSSL, keys shorter and longer than a block."""
    assert GM.mac(key, data) == gmssl_pyx.sm3_hmac(key, data)


def test_hmac_sm3_is_rfc2104_over_oracle_sm3() -> None:
    key, data = os.urandom(80), b"pseudonym input"
    k = oracle.sm3(key).ljust(64, b"\0")  # keys longer than the 64-byte block are hashed first
    inner = oracle.sm3(bytes(b ^ 0x36 for b in k) + data)
    assert GM.mac(key, data) == oracle.sm3(bytes(b ^ 0x5C for b in k) + inner)
    h = crypto_hmac.HMAC(key, hashes.SM3())
    h.update(data)
    assert GM.mac(key, data) == h.finalize()


def test_hmac_sha256_rfc4231_case_2() -> None:
    """RFC 4231 test case 2 (key "Jefe")."""
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert INTL.mac(b"Jefe", b"what do ya want for nothing?").hex() == expected
    assert INTL.mac(b"k", b"d") == hmac.digest(b"k", b"d", "sha256")
