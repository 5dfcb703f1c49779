"""The vault's key-encryption key (KEK): it wraps every person's data key, and lives outside
the database, so a copy of the database alone opens nothing.

Wrapping is the chain's AEAD with a random 96-bit nonce: AES-256-GCM (a 32-byte KEK) on an
``intl`` chain, SM4-GCM (a 16-byte KEK, RFC 8998) on a ``gm`` one; the KEK's length says
which, as the file ``govchain init`` wrote it. A wrapped key is ``nonce (12) ‖ ciphertext
(the data key: 32 or 16) ‖ tag (16)``, 60 or 44 bytes. The associated data
names the subject and the key version, so a wrapped key copied onto another subject's row
(or relabelled with another version) fails to unwrap instead of opening someone else's
data. Why not AES key wrap (RFC 3394 / 5649, ``aes_key_wrap``): it takes no associated
data, so binding the subject would need a scheme of our own around it; GCM binds it as
designed, is the primitive the sealed fields already use, and its nonce limit (2³² wraps
per KEK with random nonces) is far above one wrap per person per rotation, since every
rotation starts a new KEK.

A KEK is named by its *id*: the first 8 bytes (hex) of its suite's hash of the key (SHA-256,
or SM3 for an SM4 KEK). The id is
stored beside each wrapped key, so a rotation, and a vault opened with the wrong KEK, can
tell which KEK wrapped what without trying to unwrap. The key itself appears in no repr,
exception or log message.
"""

from __future__ import annotations

import secrets
from typing import Any, Final

from govchain.crypto import GM, INTL, CryptoSuite, DecryptionError
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.errors import GovChainError
from govchain.protocol.sealed import KEY_BYTES, NONCE_BYTES, TAG_BYTES, check_subject

KEK_BYTES = 32
"""An ``intl`` KEK (AES-256); an SM4 one is 16 bytes."""
KEK_ID_BYTES = 8
WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_SUITES_BY_KEK_SIZE: Final[dict[int, CryptoSuite]] = {suite.aead_key_size: suite for suite in (INTL, GM)}
_SUITES_BY_NAME: Final[dict[str, CryptoSuite]] = {"": INTL, GM.aead_name.lower(): GM}
"""The prefix of a KEK's text (:meth:`Kek.hex`) → its suite; none is AES-256-GCM."""


class KekError(GovChainError):
    """A KEK is malformed, or a wrapped key does not unwrap under it; names no key bytes."""


def kek_id(key: bytes) -> str:
    return _suite_of(key).hash(key)[:KEK_ID_BYTES].hex()


def _suite_of(key: bytes) -> CryptoSuite:
    suite = _SUITES_BY_KEK_SIZE.get(len(key))
    if suite is None:
        raise KekError(f"a vault KEK is 32 bytes (AES-256-GCM) or 16 (SM4-GCM), not {len(key)}")
    return suite


def _associated_data(suite: CryptoSuite, subject: str, key_version: int) -> bytes:
    label = f"govchain.vault.data-key/{suite.aead_name.lower()}"
    return canonical_bytes({"key_version": key_version, "subject": check_subject(subject), "wrap": label})


class Kek:
    """One key-encryption key; wraps and unwraps data keys bound to their subject."""

    __slots__ = ("_key", "id", "suite")

    def __init__(self, key: bytes) -> None:
        self.suite = _suite_of(key)
        """The AEAD suite of this KEK and of the data keys it wraps (the chain's)."""
        self._key = bytes(key)
        self.id = kek_id(self._key)

    @classmethod
    def generate(cls, suite: CryptoSuite = INTL) -> Kek:
        return cls(secrets.token_bytes(suite.aead_key_size))

    @classmethod
    def from_hex(cls, text: str, *, what: str) -> Kek:
        """Parse a KEK as :meth:`hex` writes it: 64 hex digits (AES-256-GCM, every KEK written
        before crypto profiles), or ``sm4-gcm:`` and 32 hex digits (a gm chain's SM4-GCM KEK);
        ``what`` names its source in errors."""
        name, _, digits = text.strip().rpartition(":")
        suite = _SUITES_BY_NAME.get(name)
        if suite is None:
            raise KekError(f"{what} names an unknown AEAD {name[:20]!r}")
        try:
            key = bytes.fromhex(digits)
        except ValueError:
            raise KekError(f"{what} is not hex") from None
        if len(key) != suite.aead_key_size:
            size = suite.aead_key_size
            raise KekError(f"{what} must be {size} bytes ({2 * size} hex digits), not {len(key)}")
        return cls(key)

    def hex(self) -> str:
        """The key as text, only for writing the KEK file: bare hex for an AES-256-GCM KEK (as
        before profiles existed), ``sm4-gcm:`` + hex for an SM4-GCM one."""
        return self._key.hex() if self.suite is INTL else f"{self.suite.aead_name.lower()}:{self._key.hex()}"

    def wrap(self, data_key: bytes, *, subject: str, key_version: int) -> bytes:
        if len(data_key) != self.suite.aead_key_size:
            raise KekError(f"a data key is {self.suite.aead_key_size} bytes")
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self.suite.seal(self._key, nonce, data_key, _associated_data(self.suite, subject, key_version))

    def unwrap(self, wrapped: bytes, *, subject: str, key_version: int) -> bytes:
        """The data key; :class:`KekError` if ``wrapped`` was not made by this KEK for this
        subject and version (or was altered)."""
        wrapped = bytes(wrapped)
        size = NONCE_BYTES + self.suite.aead_key_size + TAG_BYTES
        if len(wrapped) != size:
            raise KekError(f"the wrapped key of subject {subject} is {len(wrapped)} bytes, not {size}")
        try:
            return self.suite.open(
                self._key,
                wrapped[:NONCE_BYTES],
                wrapped[NONCE_BYTES:],
                _associated_data(self.suite, subject, key_version),
            )
        except DecryptionError:
            raise KekError(f"the wrapped key of subject {subject} does not unwrap under KEK {self.id}") from None

    def __repr__(self) -> str:
        return f"Kek(id={self.id})"

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("a KEK is not pickled")  # nor copied into another process by accident
