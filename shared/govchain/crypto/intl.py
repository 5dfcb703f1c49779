"""The international suite: SHA-256, Ed25519 (RFC 8032), AES-256-GCM, HMAC-SHA-256.

These are the algorithms GovChain chains have always used, so a chain whose genesis names
``intl`` hashes and signs exactly as before (key ids included). Keys and signing go through
``cryptography``; verification through libsodium (PyNaCl), which is faster on the hot path
and also refuses small-order and non-canonical points (see ``govchain.protocol.keys``).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final, Literal, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import BadSignatureError
from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.signing import VerifyKey

from govchain.crypto.base import SuiteBase
from govchain.crypto.errors import DecryptionError, KeyFormatError
from govchain.crypto.keys import PrivateKey, PublicKey

_RAW = serialization.Encoding.Raw
_sha256 = hashlib.sha256
_PEM = serialization.Encoding.PEM


class IntlSuite(SuiteBase):
    """SHA-256 / Ed25519 / AES-256-GCM. Stateless; use the :data:`INTL` instance."""

    __slots__ = ()
    name: Final[Literal["intl"]] = "intl"
    hash_name: Final = "SHA-256"
    signature_name: Final = "Ed25519"
    aead_name: Final = "AES-256-GCM"
    mac_name: Final = "HMAC-SHA-256"
    aead_key_size = 32
    public_key_size = 32

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    # The tree hashes inline SHA-256 instead of going through ``hash``: they run once per event
    # and per tree node on the orderer's hot path, and this keeps them at the cost of the
    # module-level functions of govchain.protocol.merkle.
    def leaf_hash(self, leaf: bytes) -> bytes:
        """SHA-256(0x00 || leaf) (RFC 9162 §2.1.1)."""
        return _sha256(b"\x00" + leaf).digest()

    def node_hash(self, left: bytes, right: bytes) -> bytes:
        """SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
        return _sha256(b"\x01" + left + right).digest()

    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC-SHA-256 (RFC 2104), e.g. for keyed pseudonyms."""
        return hmac.digest(key, data, "sha256")

    # -- keys -------------------------------------------------------------------------------

    def public_key_from_bytes(self, raw: bytes) -> PublicKey:
        """A 32-byte RFC 8032 public key; libsodium judges the point at verification."""
        raw = bytes(raw)
        if len(raw) != self.public_key_size:
            raise KeyFormatError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
        return PublicKey("intl", raw, self.key_id_of(raw))

    def generate_private_key(self) -> PrivateKey:
        return self._wrap(Ed25519PrivateKey.generate())

    def public_key_to_pem(self, public: PublicKey) -> bytes:
        self._own(public)
        key = Ed25519PublicKey.from_public_bytes(public.raw)
        return key.public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def public_key_from_pem(self, pem: bytes) -> PublicKey:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a PEM public key: {exc}") from exc
        except Exception as exc:  # UnsupportedAlgorithm and kin: still the caller's bad input
            raise KeyFormatError(f"unsupported PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError("the PEM public key is not an Ed25519 key")
        return self.public_key_from_bytes(key.public_bytes(_RAW, serialization.PublicFormat.Raw))

    def private_key_to_pem(self, private: PrivateKey) -> bytes:
        """PKCS#8 PEM, unencrypted: file permissions (0600) protect it, as for every key file."""
        self._own(private)
        handle = cast(Ed25519PrivateKey, private._handle)
        return handle.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def private_key_from_pem(self, pem: bytes) -> PrivateKey:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a PEM private key: {exc}") from exc
        except Exception as exc:
            raise KeyFormatError(f"unsupported PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError("the PEM private key is not an Ed25519 key")
        return self._wrap(key)

    def _wrap(self, key: Ed25519PrivateKey) -> PrivateKey:
        raw = key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        return PrivateKey("intl", self.public_key_from_bytes(raw), key)

    # -- signatures -------------------------------------------------------------------------

    def sign(self, private: PrivateKey, message: bytes) -> bytes:
        """A 64-byte RFC 8032 Ed25519 signature (deterministic)."""
        self._own(private)
        handle = cast(Ed25519PrivateKey, private._handle)
        return handle.sign(message)

    def verify(self, public: PublicKey, message: bytes, signature: bytes) -> bool:
        """True only for a valid signature; malformed input is ``False``, never an exception."""
        self._own(public)
        if len(signature) != self.signature_size:
            return False
        try:
            VerifyKey(public.raw).verify(message, signature)
        except (BadSignatureError, NaclCryptoError, ValueError, TypeError):
            return False
        return True

    # -- AEAD -------------------------------------------------------------------------------

    def seal(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """AES-256-GCM: ciphertext || 16-byte tag. Never reuse a nonce under one key."""
        self._check_aead(key, nonce)
        return AESGCM(key).encrypt(nonce, plaintext, aad)

    def open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
        """The plaintext, or :class:`DecryptionError` if anything was altered."""
        self._check_aead(key, nonce)
        if len(sealed) < self.aead_tag_size:
            raise DecryptionError("sealed data is shorter than its tag")
        try:
            return AESGCM(key).decrypt(nonce, sealed, aad)
        except InvalidTag as exc:
            raise DecryptionError("AES-256-GCM authentication failed") from exc


INTL: Final = IntlSuite()
