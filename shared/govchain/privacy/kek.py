"""The vault's key-encryption key (KEK): it wraps every person's data key, and lives outside
the database, so a copy of the database alone opens nothing.

Wrapping is AES-256-GCM (pyca/cryptography ``AESGCM``) with a random 96-bit nonce; a
wrapped key is ``nonce (12) ‖ ciphertext (32) ‖ tag (16)``, 60 bytes. The associated data
names the subject and the key version, so a wrapped key copied onto another subject's row
(or relabelled with another version) fails to unwrap instead of opening someone else's
data. Why not AES key wrap (RFC 3394 / 5649, ``aes_key_wrap``): it takes no associated
data, so binding the subject would need a scheme of our own around it; GCM binds it as
designed, is the primitive the sealed fields already use, and its nonce limit (2³² wraps
per KEK with random nonces) is far above one wrap per person per rotation, since every
rotation starts a new KEK.

A KEK is named by its *id*: the first 8 bytes (hex) of the SHA-256 of the key. The id is
stored beside each wrapped key, so a rotation, and a vault opened with the wrong KEK, can
tell which KEK wrapped what without trying to unwrap. The key itself appears in no repr,
exception or log message.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.errors import GovChainError
from govchain.protocol.sealed import KEY_BYTES, NONCE_BYTES, TAG_BYTES, check_subject

KEK_BYTES = 32
KEK_ID_BYTES = 8
WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_WRAP_LABEL = "govchain.vault.data-key/aes-256-gcm"


class KekError(GovChainError):
    """A KEK is malformed, or a wrapped key does not unwrap under it; names no key bytes."""


def kek_id(key: bytes) -> str:
    return hashlib.sha256(key).digest()[:KEK_ID_BYTES].hex()


def _associated_data(subject: str, key_version: int) -> bytes:
    return canonical_bytes({"key_version": key_version, "subject": check_subject(subject), "wrap": _WRAP_LABEL})


class Kek:
    """One key-encryption key; wraps and unwraps data keys bound to their subject."""

    __slots__ = ("_aead", "_key", "id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEK_BYTES:
            raise KekError(f"a vault KEK is {KEK_BYTES} bytes, not {len(key)}")
        self._key = bytes(key)
        self._aead = AESGCM(self._key)
        self.id = kek_id(self._key)

    @classmethod
    def generate(cls) -> Kek:
        return cls(secrets.token_bytes(KEK_BYTES))

    @classmethod
    def from_hex(cls, text: str, *, what: str) -> Kek:
        """Parse a KEK written as 64 hex digits; ``what`` names its source in errors."""
        try:
            key = bytes.fromhex(text.strip())
        except ValueError:
            raise KekError(f"{what} is not hex") from None
        if len(key) != KEK_BYTES:
            raise KekError(f"{what} must be {KEK_BYTES} bytes ({2 * KEK_BYTES} hex digits), not {len(key)}")
        return cls(key)

    def hex(self) -> str:
        """The key as hex: only for writing the KEK file."""
        return self._key.hex()

    def wrap(self, data_key: bytes, *, subject: str, key_version: int) -> bytes:
        if len(data_key) != KEY_BYTES:
            raise KekError(f"a data key is {KEY_BYTES} bytes")
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, _associated_data(subject, key_version))

    def unwrap(self, wrapped: bytes, *, subject: str, key_version: int) -> bytes:
        """The data key; :class:`KekError` if ``wrapped`` was not made by this KEK for this
        subject and version (or was altered)."""
        wrapped = bytes(wrapped)
        if len(wrapped) != WRAPPED_BYTES:
            raise KekError(f"the wrapped key of subject {subject} is {len(wrapped)} bytes, not {WRAPPED_BYTES}")
        try:
            return self._aead.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _associated_data(subject, key_version)
            )
        except InvalidTag:
            raise KekError(f"the wrapped key of subject {subject} does not unwrap under KEK {self.id}") from None

    def __repr__(self) -> str:
        return f"Kek(id={self.id})"

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a KEK is not pickled")  # nor copied into another process by accident
