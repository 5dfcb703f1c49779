"""SM2 against implementations that share no code with GmSSL: sign with one, verify with the other.

* the pure-Python ``gmssl`` package (always, a test dependency);
* OpenSSL 3's SM2 through the ``openssl`` command (skipped where there is none with SM2),
  which also proves our PEM files are the ones OpenSSL reads and writes.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest

from govchain.crypto import GM, sm2
from govchain.crypto.pem import armor
from tests.crypto import oracle

MESSAGES = [b"", b"a", b"message digest", os.urandom(100), os.urandom(1000)]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{len(m)}B")
def test_ours_verified_by_the_oracle(message: bytes) -> None:
    key = GM.generate_private_key()
    signature = GM.sign(key, message)
    assert oracle.verify(key.public.raw, message, signature)
    assert not oracle.verify(key.public.raw, message + b"x", signature)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{len(m)}B")
def test_oracles_verified_by_ours(message: bytes) -> None:
    d = (secrets.randbelow(sm2.N - 2) + 1).to_bytes(32, "big")
    public = oracle.public_of(d)
    signature = oracle.sign(d, public, message)
    key = GM.public_key_from_bytes(public)
    assert GM.verify(key, message, signature)
    assert not GM.verify(key, message + b"x", signature)
    # The oracle's key pair also loads as a GovChain key and signs for the oracle.
    private = GM.private_key_from_pem(armor(sm2.private_key_der(d, public), "PRIVATE KEY"))
    assert oracle.verify(public, message, GM.sign(private, message))


needs_openssl = pytest.mark.skipif(oracle.openssl_with_sm2() is None, reason="no openssl with SM2")


def _openssl(*args: str | Path) -> bytes:
    path = oracle.openssl_with_sm2()
    assert path is not None
    done = subprocess.run([path, *map(str, args)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def _pkeyopts() -> list[str]:
    return ["-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]


@needs_openssl
def test_openssl_key_and_signature_are_ours(tmp_path: Path) -> None:
    key_file, pub_file, msg, sig = (tmp_path / n for n in ("k.pem", "p.pem", "m", "s.der"))
    _openssl("genpkey", "-algorithm", "SM2", "-out", key_file)
    _openssl("pkey", "-in", key_file, "-pubout", "-out", pub_file)
    key = GM.private_key_from_pem(key_file.read_bytes())
    assert GM.public_key_from_pem(pub_file.read_bytes()) == key.public
    assert GM.private_key_to_pem(key) == key_file.read_bytes()  # byte for byte
    assert GM.public_key_to_pem(key.public) == pub_file.read_bytes()
    msg.write_bytes(b"an event's canonical bytes")
    _openssl("pkeyutl", "-sign", "-inkey", key_file, "-in", msg, "-out", sig, *_pkeyopts())
    signature = sm2.signature_from_der(sig.read_bytes())
    assert GM.verify(key.public, msg.read_bytes(), signature)
    assert not GM.verify(key.public, msg.read_bytes() + b"!", signature)


@needs_openssl
def test_our_key_and_signature_are_openssls(tmp_path: Path) -> None:
    key = GM.generate_private_key()
    key_file, pub_file, msg, sig = (tmp_path / n for n in ("k.pem", "p.pem", "m", "s.der"))
    key_file.write_bytes(GM.private_key_to_pem(key))
    assert _openssl("pkey", "-in", key_file, "-pubout") == GM.public_key_to_pem(key.public)
    pub_file.write_bytes(GM.public_key_to_pem(key.public))
    msg.write_bytes(b"a block hash")
    sig.write_bytes(sm2.signature_to_der(GM.sign(key, msg.read_bytes())))
    out = _openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        pub_file,
        "-in",
        msg,
        "-sigfile",
        sig,
        *_pkeyopts(),
    )
    assert b"Signature Verified Successfully" in out
