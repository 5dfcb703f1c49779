"""Ed25519 signing keys, public keys and key ids.

A key id is the SHA-256 of the raw 32-byte public key, so the id alone pins the key:
a key id can never be re-bound to other key material.

Keys are generated, stored (PKCS#8 PEM) and used for signing with ``cryptography``.
Signatures are verified with libsodium (PyCA's ``PyNaCl``): every event is verified on the
orderer's hot path, and libsodium's verification is about three times faster here than
OpenSSL's (bench/RESULTS.md). Both implement RFC 8032 with cofactorless checks and S < L;
libsodium also refuses small-order and non-canonical points, which honest keys never are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

from govchain.privatefiles import read_secret_file
from govchain.protocol.canonical import sha256_hex
from govchain.protocol.errors import KeyFileError

_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw


def key_id_of(raw_public_key: bytes) -> str:
    """The key id: hex SHA-256 of the raw Ed25519 public key."""
    return sha256_hex(raw_public_key)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key as it appears on chain (hex of the raw 32 bytes)."""

    raw: bytes

    @classmethod
    def from_hex(cls, value: str) -> PublicKey:
        raw = bytes.fromhex(value)
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        return cls(raw)

    @property
    def hex(self) -> str:
        return self.raw.hex()

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            VerifyKey(self.raw).verify(message, signature)
        except (BadSignatureError, CryptoError, ValueError, TypeError):
            return False
        return True


class SigningKey:
    """An Ed25519 private key. Its repr never shows key material, so it cannot leak into logs."""

    __slots__ = ("_private", "public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = PublicKey(private.public_key().public_bytes(_RAW, _RAW_PUB))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id})"

    def to_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"not a PEM private key: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFileError("the PEM key is not an Ed25519 key")
        return cls(private)

    def save(self, path: Path) -> None:
        """Write the key as PKCS#8 PEM, readable by the owner only (0600), never overwriting."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(self.to_pem())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """Read a PEM key file; refuse one that group or others can read."""
        pem = read_secret_file(path, what="key file", error=KeyFileError)
        return cls.from_pem(pem)
