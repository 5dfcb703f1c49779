"""c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1`` (signature type 0x04): a witness's
timestamped statement that a checkpoint is the largest consistent tree it has seen for a log.

The signed message is ``cosignature/v1\\n`` + ``time <unix seconds>\\n`` + the checkpoint body,
so a cosignature can never pass for the log's own signature (type 0x01) over the same text. The
signature line carries key id || 8-byte big-endian timestamp || 64-byte Ed25519 signature.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from govchain.protocol.keys import PublicKey, SigningKey
from govchain.transparency.errors import MalformedKey
from govchain.transparency.note import NoteSignature, is_valid_key_name
from govchain.transparency.vkeys import ALG_COSIGNATURE_V1, format_vkey, key_id, parse_vkey

MAX_TIMESTAMP = 2**63 - 1
"""The spec caps the u64 timestamp at 2^63 - 1."""
COSIGNATURE_BYTES = 8 + 64


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """What an Ed25519 cosigner signs over a checkpoint body (signature lines excluded)."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"a cosignature timestamp is in [0, 2^63 - 1], got {timestamp}")
    return b"cosignature/v1\ntime %d\n" % timestamp + text


def cosignature_timestamp(signature: bytes) -> int | None:
    """The timestamp a cosignature's bytes (after the key id) carry, or None if malformed."""
    if len(signature) != COSIGNATURE_BYTES:
        return None
    stamp = int.from_bytes(signature[:8], "big")
    return stamp if stamp <= MAX_TIMESTAMP else None


@dataclass(frozen=True, slots=True)
class CosignatureVerifier:
    """Checks a witness's ``cosignature/v1`` lines (a :class:`~.vkeys.NoteVerifier`)."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedKey(f"invalid key name {self.name!r}")
        if len(self.public_key) != 32:
            raise MalformedKey("an Ed25519 public key is 32 bytes")
        object.__setattr__(self, "key_id", key_id(self.name, ALG_COSIGNATURE_V1, self.public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        parsed = parse_vkey(vkey, algs=(ALG_COSIGNATURE_V1,))
        return cls(parsed.name, parsed.public_key)

    @property
    def vkey(self) -> str:
        return format_vkey(self.name, ALG_COSIGNATURE_V1, self.public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        stamp = cosignature_timestamp(signature)
        if stamp is None:
            return False
        return PublicKey(self.public_key).verify(signature[8:], cosigned_message(text, stamp))


class CosignatureSigner:
    """A witness's cosigning key under its name; the clock gives the timestamps."""

    __slots__ = ("_clock", "_key", "key_id", "name")

    def __init__(self, name: str, key: SigningKey, clock: Callable[[], float] = time.time) -> None:
        if not is_valid_key_name(name):
            raise MalformedKey(f"invalid key name {name!r}")
        self.name = name
        self._key = key
        self._clock = clock
        self.key_id = key_id(name, ALG_COSIGNATURE_V1, key.public.raw)

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self._key.public.raw)

    def now(self) -> int:
        return int(self._clock())

    def sign_at(self, text: bytes, timestamp: int) -> bytes:
        """Timestamp || signature, the bytes after the key id; the timestamp must not be zero
        (c2sp.org/tlog-witness: a witness never omits it)."""
        if timestamp <= 0:
            raise ValueError("a witness cosignature carries a non-zero timestamp")
        return timestamp.to_bytes(8, "big") + self._key.sign(cosigned_message(text, timestamp))

    def sign(self, text: bytes) -> bytes:
        """Cosign now (a :class:`~.vkeys.NoteSigner`, so :func:`~.checkpoint.sign_checkpoint` works)."""
        return self.sign_at(text, self.now())

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        """The signature line a witness returns for a checkpoint body."""
        return NoteSignature(self.name, self.key_id, self.sign_at(text.encode("utf-8"), timestamp))

    def __repr__(self) -> str:
        return f"CosignatureSigner({self.verifier.vkey})"
