"""Signing keys, public keys and key ids, of the chain's crypto suite.

A key id is the suite's hash of the raw public key (SHA-256 of the 32-byte Ed25519 key on an
``intl`` chain, SM3 of the 65-byte SM2 point on a ``gm`` one), so the id alone pins the key:
a key id can never be re-bound to other key material. The two encodings cannot be confused
(32 against 65 bytes), so a key names its own suite and signs and verifies with it; a chain
accepts keys of its own profile only (:mod:`govchain.protocol.validation`).

Ed25519 keys are generated, stored (PKCS#8 PEM) and used for signing with ``cryptography``.
Signatures are verified with libsodium (PyCA's ``PyNaCl``): every event is verified on the
orderer's hot path, and libsodium's verification is about three times faster here than
OpenSSL's (bench/RESULTS.md). Both implement RFC 8032 with cofactorless checks and S < L;
libsodium also refuses small-order and non-canonical points, which honest keys never are.
SM2 keys go through :mod:`govchain.crypto` (GmSSL; docs/crypto-profiles.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govchain.crypto import (
    INTL,
    CryptoError,
    CryptoSuite,
    private_key_from_pem,
    public_key_from_raw,
    suite_of,
)
from govchain.crypto import PrivateKey as SuitePrivateKey
from govchain.crypto import PublicKey as SuitePublicKey
from govchain.privatefiles import read_secret_file
from govchain.protocol.errors import KeyFileError

_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw


def key_id_of(raw_public_key: bytes) -> str:
    """The key id: hex hash, in the key's own suite, of its raw public key."""
    return public_key_from_raw(raw_public_key).key_id


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A public key as it appears on chain (hex of its raw bytes: 32 for Ed25519, 65 for SM2).

    Checked when made (an SM2 point must lie on the curve): ``KeyFormatError``, a
    ``ValueError``, otherwise. Equal and hashed by ``raw`` alone."""

    raw: bytes
    key: SuitePublicKey = field(init=False, repr=False, compare=False)
    """The suite's validated key, with its key id."""
    suite: CryptoSuite = field(init=False, repr=False, compare=False)
    """The crypto suite this key belongs to."""

    def __post_init__(self) -> None:
        key = public_key_from_raw(bytes(self.raw))
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "suite", suite_of(key))

    @classmethod
    def from_hex(cls, value: str) -> PublicKey:
        return cls(bytes.fromhex(value))

    @property
    def hex(self) -> str:
        return self.raw.hex()

    @property
    def key_id(self) -> str:
        return self.key.key_id

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``message``."""
        return self.suite.verify(self.key, message, signature)


class SigningKey:
    """A private key. Its repr never shows key material, so it cannot leak into logs."""

    __slots__ = ("_key", "_private", "_sign", "public")

    def __init__(self, private: Ed25519PrivateKey | SuitePrivateKey) -> None:
        if isinstance(private, Ed25519PrivateKey):
            raw = private.public_key().public_bytes(_RAW, _RAW_PUB)
            key = SuitePrivateKey("intl", INTL.public_key_from_bytes(raw), private)
            self._private: Ed25519PrivateKey | None = private
            self._sign: Callable[[bytes], bytes] = private.sign  # the Ed25519 hot path, unchanged
        else:
            key = private
            self._private = None
            self._sign = partial(suite_of(key).sign, key)
        self._key = key
        self.public = PublicKey(key.public.raw)

    @classmethod
    def generate(cls, suite: CryptoSuite = INTL) -> SigningKey:
        """A fresh key of ``suite`` (the chain's; Ed25519 unless told)."""
        if suite is INTL:
            return cls(Ed25519PrivateKey.generate())
        return cls(suite.generate_private_key())

    @property
    def suite(self) -> CryptoSuite:
        return self.public.suite

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        return self._sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id})"

    def to_pem(self) -> bytes:
        if self._private is not None:
            return self._private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        return self.suite.private_key_to_pem(self._key)

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """A PKCS#8 PEM key of either suite (Ed25519, or SM2 as OpenSSL writes it)."""
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except Exception as exc:  # ValueError, TypeError, UnsupportedAlgorithm: the caller's bad input
            try:  # cryptography reads no SM2 key (UnsupportedAlgorithm): the crypto seam does
                return cls(private_key_from_pem(pem))
            except CryptoError:
                kind = (
                    "not a PEM private key"
                    if isinstance(exc, ValueError | TypeError)
                    else "unsupported PEM private key"
                )
                raise KeyFileError(f"{kind}: {exc}") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFileError("the PEM key is not an Ed25519 (nor an SM2) key")
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
