"""Blocks: a signed header over a batch of events, hash-linked to the block before.

The header commits to the block's own events (``events_root``) and to the whole event log
after it (``log_root`` over ``log_size`` leaves, like an RFC 9162 signed tree head), so an
inclusion proof of any event in the log can be tied to a header the orderer signed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from govchain.protocol.canonical import canonical_bytes, sha256_hex
from govchain.protocol.envelope import HEX64_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.jsontext import MAX_EVENT_DEPTH, parse_json_object
from govchain.protocol.errors import BlockVerificationError
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.merkle import Frontier, leaf_hash, root_from_leaf_hashes

BLOCK_FORMAT_VERSION = 1
ZERO_HASH = "0" * 64


class BlockHeader(BaseModel):
    """Strict, every field required: the block hash is over the parsed header's canonical
    form, so a header that parsed by coercion (``"height": "0"``, ``1.0``, a missing
    ``version``) would verify under bytes the orderer never wrote, and an outside verifier
    hashing what it received would disagree. Only the orderer's exact form is accepted."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    version: int
    chain_id: str = Field(pattern=PRINCIPAL_PATTERN)
    height: int = Field(ge=0)
    prev_hash: str = Field(pattern=HEX64_PATTERN)
    events_root: str = Field(pattern=HEX64_PATTERN, description="RFC 9162 root of this block's events")
    log_root: str = Field(pattern=HEX64_PATTERN, description="RFC 9162 root of the whole log after this block")
    log_size: int = Field(ge=0, description="leaves in the whole log after this block")
    event_count: int = Field(ge=0)
    time: str
    orderer: str = Field(pattern=HEX64_PATTERN, description="key id of the signing orderer key")

    def block_hash(self) -> str:
        """SHA-256 over the RFC 8785 bytes of the header: the block's identity."""
        return sha256_hex(canonical_bytes(self.model_dump()))


class Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    header: BlockHeader
    hash: str = Field(pattern=HEX64_PATTERN)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$", description="orderer's Ed25519 signature of the raw block hash")
    events: list[dict[str, Any]]

    @property
    def height(self) -> int:
        return self.header.height

    def to_bytes(self) -> bytes:
        """Wire bytes. Only the header hash and the leaves are canonical; the wrapper need not be,
        so pydantic's own JSON encoder writes it (compact, UTF-8: four times json.dumps's speed)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes, *, height_hint: int | None = None) -> Block:
        try:
            return cls.model_validate(parse_json_object(raw, what="block", max_depth=MAX_EVENT_DEPTH + 2))
        except (ValueError, ValidationError) as exc:
            height = -1 if height_hint is None else height_hint
            raise BlockVerificationError(height, f"not a well-formed block: {exc}") from exc

    def leaf_hashes(self) -> list[bytes]:
        """RFC 9162 leaf hashes of the events, in block order."""
        return [leaf_hash(canonical_bytes(event)) for event in self.events]

    def has_valid_signature(self, public_key: PublicKey) -> bool:
        return public_key.key_id == self.header.orderer and public_key.verify(
            bytes.fromhex(self.signature), bytes.fromhex(self.hash)
        )


def seal_block(
    *,
    chain_id: str,
    height: int,
    prev_hash: str,
    events: list[dict[str, Any]],
    leaf_hashes: list[bytes],
    log_after: Frontier,
    time: str,
    orderer_key: SigningKey,
) -> Block:
    """Build and sign the next block; ``log_after`` is the event log including its leaves."""
    header = BlockHeader(
        version=BLOCK_FORMAT_VERSION,
        chain_id=chain_id,
        height=height,
        prev_hash=prev_hash,
        events_root=root_from_leaf_hashes(leaf_hashes).hex(),
        log_root=log_after.root().hex(),
        log_size=log_after.size,
        event_count=len(events),
        time=time,
        orderer=orderer_key.key_id,
    )
    block_hash = header.block_hash()
    signature = orderer_key.sign(bytes.fromhex(block_hash)).hex()
    return Block(header=header, hash=block_hash, signature=signature, events=events)


def block_msg_id(block: Block) -> str:
    """The JetStream ``Nats-Msg-Id`` of a block.

    It names the block's hash, not just its height: two different blocks at one height
    must never be de-duplicated into each other (nats-server #2242), or a racing orderer
    would read the other's block as its own success.
    """
    return f"{block.header.chain_id}.{block.height}.{block.hash}"
