"""Ed25519 keys: signing, key ids, PEM files kept private."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govchain.protocol.errors import KeyFileError
from govchain.protocol.keys import PublicKey, SigningKey, key_id_of

# RFC 8032 §7.1, TEST 1: secret key, public key, empty message, signature.
RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_vector() -> None:
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SECRET)))
    assert key.public.hex == RFC8032_PUBLIC
    assert key.sign(b"").hex() == RFC8032_SIGNATURE
    assert PublicKey.from_hex(RFC8032_PUBLIC).verify(bytes.fromhex(RFC8032_SIGNATURE), b"")


def test_sign_and_verify() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    signature = key.sign(b"message")
    assert len(signature) == 64
    assert key.public.verify(signature, b"message")
    assert not key.public.verify(signature, b"messagf")
    assert not other.public.verify(signature, b"message")
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert not key.public.verify(tampered, b"message")
    assert not key.public.verify(signature[:-1], b"message")  # wrong length: False, not an error
    assert not key.public.verify(b"", b"message")


def test_key_id_is_sha256_of_the_raw_public_key() -> None:
    key = SigningKey.generate()
    raw = key.public.raw
    assert len(raw) == 32
    assert key.key_id == hashlib.sha256(raw).hexdigest()
    assert key.public.key_id == key.key_id == key_id_of(raw)
    assert PublicKey.from_hex(RFC8032_PUBLIC).key_id == hashlib.sha256(bytes.fromhex(RFC8032_PUBLIC)).hexdigest()
    assert SigningKey.generate().key_id != key.key_id


def test_public_key_hex_roundtrip_and_length_check() -> None:
    key = SigningKey.generate()
    assert PublicKey.from_hex(key.public.hex) == key.public
    with pytest.raises(ValueError):
        PublicKey.from_hex(key.public.hex[:-2])
    with pytest.raises(ValueError):
        PublicKey.from_hex(key.public.hex + "00")
    with pytest.raises(ValueError):
        PublicKey.from_hex("zz" * 32)


def test_pem_roundtrip() -> None:
    key = SigningKey.generate()
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    again = SigningKey.from_pem(pem)
    assert again.key_id == key.key_id
    assert key.public.verify(again.sign(b"x"), b"x")


def test_from_pem_rejects_garbage_and_other_key_kinds() -> None:
    with pytest.raises(KeyFileError):
        SigningKey.from_pem(b"not a pem")
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFileError, match="not an Ed25519"):
        SigningKey.from_pem(ec_pem)


def test_save_writes_0600_and_load_roundtrips(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "sub" / "dept.pem"
    key.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert SigningKey.load(path).key_id == key.key_id


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    first, second = SigningKey.generate(), SigningKey.generate()
    path = tmp_path / "key.pem"
    first.save(path)
    with pytest.raises(KeyFileError, match="exists"):
        second.save(path)
    assert SigningKey.load(path).key_id == first.key_id


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_load_refuses_a_key_others_can_read(tmp_path: Path, mode: int) -> None:
    key = SigningKey.generate()
    path = tmp_path / "key.pem"
    key.save(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        SigningKey.load(path)
    os.chmod(path, 0o400)
    assert SigningKey.load(path).key_id == key.key_id


def test_load_missing_file_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        SigningKey.load(tmp_path / "absent.pem")


def test_repr_shows_no_key_material() -> None:
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SECRET))
    key = SigningKey(private)
    text = repr(key) + str(key)
    assert key.key_id in text
    assert RFC8032_SECRET not in text.lower()
    pem_body = b"".join(key.to_pem().splitlines()[1:-1]).decode()
    assert pem_body not in text
    assert "PRIVATE" not in text
