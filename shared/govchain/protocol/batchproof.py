"""The proof that carries a batch envelope's one signature to each of its events.

A department's SDK may sign a whole batch of events at once: it signs the RFC 9162 root of
a Merkle tree whose leaves are the events' signing bytes. Each event then carries, instead of
a signature of its own, a :class:`BatchProof`: its position, the tree size, its inclusion path
and the signature of the root. Every event stays verifiable alone, from its block, by any
RFC 9162 verifier plus one Ed25519 check. Verifying a batch costs one Ed25519 check and
log2(n) hashes per event, instead of one Ed25519 check per event.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from govchain.crypto import CryptoSuite
from govchain.protocol.keys import PublicKey
from govchain.protocol.merkle import leaf_hasher, root_from_inclusion

MAX_BATCH_EVENTS = 1024
"""Events in one batch envelope; its inclusion paths are then at most 10 hashes long."""

BATCH_ROOT_CONTEXT = "govchain.event_batch.v1"


def batch_root_message(root: bytes, size: int) -> bytes:
    """What a batch signature covers: RFC 8785 of the root, the size and a context string.

    The context keeps a batch signature from ever passing for an event's own signature (an
    event's signing bytes always carry ``id``, ``type`` and the other envelope fields)."""
    # RFC 8785 of {"context", "root", "size"} written out: fixed sorted keys, ASCII values.
    return f'{{"context":"{BATCH_ROOT_CONTEXT}","root":"{root.hex()}","size":{int(size)}}}'.encode()


class BatchProof(BaseModel):
    """An event's place in the batch its department signed once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0, lt=MAX_BATCH_EVENTS)
    size: int = Field(ge=1, le=MAX_BATCH_EVENTS)
    path: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(max_length=10)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")

    @model_validator(mode="after")
    def _position_in_tree(self) -> BatchProof:
        if self.index >= self.size:
            raise ValueError(f"index {self.index} is outside a batch of {self.size}")
        return self

    def to_bytes(self) -> bytes:
        """RFC 8785 of the proof, written out directly: its keys are fixed and sorted, its
        values small integers and lowercase hex, for which JCS is exactly this text."""
        path = '"' + '","'.join(self.path) + '"' if self.path else ""
        return f'{{"index":{self.index},"path":[{path}],"signature":"{self.signature}","size":{self.size}}}'.encode()

    def root(self, signing_bytes: bytes, suite: CryptoSuite | None = None) -> bytes | None:
        """The batch root this proof leads to from the event's signing bytes (None if malformed),
        hashed in the chain's ``suite`` (SHA-256 when None)."""
        try:
            path = [bytes.fromhex(node) for node in self.path]
        except ValueError:
            return None
        return root_from_inclusion(leaf_hasher(suite)(signing_bytes), self.index, self.size, path, suite)

    def verify(self, public_key: PublicKey, signing_bytes: bytes, *, root: bytes | None = None) -> bool:
        """True when the path leads to a root that ``public_key`` signed for this batch size.

        ``root``, when given, must be the root the path leads to: the orderer, which built
        the paths from the batch's leaves itself, passes it instead of walking them again.
        The batch tree is hashed in the signer's suite, which is the chain's."""
        root = self.root(signing_bytes, public_key.suite) if root is None else root
        if root is None:
            return False
        return _root_signed(public_key, batch_root_message(root, self.size), bytes.fromhex(self.signature))


@lru_cache(maxsize=4096)
def _root_signed(public_key: PublicKey, message: bytes, signature: bytes) -> bool:
    """Signature verification is a pure function of its inputs, so the events of one batch
    share one check: the orderer, the verifier and catch-up each pay it once per batch."""
    return public_key.verify(signature, message)
