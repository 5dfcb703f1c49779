"""What every suite derives from its hash alone: RFC 9162 tree hashing and key ids.

Keeping these in one place means the two suites cannot drift in domain separation
(0x00 leaf, 0x01 node) or in how a key id is formed: only ``hash`` differs.
"""

from __future__ import annotations

import os

from govchain.crypto.errors import CryptoError, SuiteMismatchError
from govchain.crypto.keys import PrivateKey, PublicKey, SuiteName

NONCE_SIZE = 12
"""AEAD nonce length for both suites (96 bits: GCM's native IV, RFC 8998's SM4-GCM IV)."""
TAG_SIZE = 16
"""AEAD tag length for both suites; shorter tags are refused."""


class SuiteBase:
    """Shared behaviour; a concrete suite supplies ``name``, ``hash`` and the algorithms."""

    __slots__ = ()
    name: SuiteName
    hash_size = 32
    aead_key_size: int
    aead_nonce_size = NONCE_SIZE
    aead_tag_size = TAG_SIZE
    signature_size = 64

    def hash(self, data: bytes) -> bytes:  # pragma: no cover - every suite overrides
        raise NotImplementedError

    def leaf_hash(self, leaf: bytes) -> bytes:
        """H(0x00 || leaf) (RFC 9162 §2.1.1): a leaf can never pass for an interior node."""
        return self.hash(b"\x00" + leaf)

    def node_hash(self, left: bytes, right: bytes) -> bytes:
        """H(0x01 || left || right) (RFC 9162 §2.1.1): an interior node over two children."""
        return self.hash(b"\x01" + left + right)

    @property
    def empty_root(self) -> bytes:
        """The root of the empty tree, H("") (RFC 9162 §2.1.1)."""
        return self.hash(b"")

    def key_id_of(self, raw_public_key: bytes) -> str:
        """Hex suite hash of the canonical public key bytes."""
        return self.hash(raw_public_key).hex()

    def key_id(self, public: PublicKey) -> str:
        self._own(public)
        return public.key_id

    def generate_aead_key(self) -> bytes:
        """A fresh random data key of the suite's AEAD key size."""
        return os.urandom(self.aead_key_size)

    def _own(self, key: PublicKey | PrivateKey) -> None:
        if key.suite != self.name:
            raise SuiteMismatchError(f"a {key.suite} key given to the {self.name} suite")

    def _check_aead(self, key: bytes, nonce: bytes) -> None:
        if len(key) != self.aead_key_size:
            raise CryptoError(f"{self.name} AEAD keys are {self.aead_key_size} bytes, not {len(key)}")
        if len(nonce) != NONCE_SIZE:
            raise CryptoError(f"AEAD nonces are {NONCE_SIZE} bytes, not {len(nonce)}")

    def __repr__(self) -> str:
        return f"<crypto suite {self.name}>"

    # A suite is a stateless singleton that callers compare by identity (``key.suite is
    # state.suite``): copies, deep copies and pickles give back the one instance.
    def __copy__(self) -> SuiteBase:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SuiteBase:
        return self

    def __reduce__(self) -> tuple[object, tuple[str]]:
        from govchain.crypto.suite import suite_by_name

        return (suite_by_name, (self.name,))
