"""Suite-tagged key values: a key always says which suite made it.

Keys are built only by a suite (``suite.public_key_from_bytes``, ``suite.generate_private_key``,
``suite.private_key_from_pem``), which validates the material first; the ``suite`` tag lets
every other suite refuse the key instead of misreading its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SuiteName = Literal["intl", "gm"]


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A validated public key.

    ``raw`` is the suite's canonical encoding (Ed25519: the 32-byte RFC 8032 key; SM2: the
    65-byte uncompressed point 04 || x || y of GB/T 32918.1). ``key_id`` is the hex suite hash
    of ``raw``, so an id can never be re-bound to other key material.
    """

    suite: SuiteName
    raw: bytes
    key_id: str

    @property
    def hex(self) -> str:
        return self.raw.hex()


class PrivateKey:
    """A signing key. Its repr never shows key material, so it cannot leak into logs."""

    __slots__ = ("_handle", "public", "suite")

    def __init__(self, suite: SuiteName, public: PublicKey, handle: object) -> None:
        self.suite: SuiteName = suite
        self.public = public
        # Suite-private: a library key object or secret bytes; only the owning suite reads it.
        self._handle = handle

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def __repr__(self) -> str:
        return f"PrivateKey(suite={self.suite}, key_id={self.key_id})"
