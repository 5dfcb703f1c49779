"""Blocks: a signed header over a batch of events, hash-linked to the block before.

The header commits to the block's own events (``events_root``) and to the whole event log
after it (``log_root`` over ``log_size`` leaves, like an RFC 9162 signed tree head), so an
inclusion proof of any event in the log can be tied to a header the orderer signed.

On a chain whose own tree is not SHA-256 (gm: SM3) the header also carries ``log_root_sha256``,
the root of the RFC 6962 SHA-256 tree over the same leaves: the tree its C2SP checkpoints for
stock witnesses carry (:func:`govchain.crypto.keeps_sha256_tree`). The orderer's signature then
binds both roots; an intl header has no such field at all, byte for byte as before.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from govchain.crypto import CryptoSuite, keeps_sha256_tree
from govchain.protocol.canonical import SAFE_INTEGER, canonical_bytes, sha256_hex
from govchain.protocol.envelope import HEX64_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.errors import BlockVerificationError
from govchain.protocol.jsontext import MAX_EVENT_DEPTH, parse_json_object
from govchain.protocol.jsontext import _no_constants as no_constants
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.merkle import Frontier, leaf_hasher, root_from_leaf_hashes

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
    log_root_sha256: str | None = Field(
        default=None,
        pattern=HEX64_PATTERN,
        exclude_if=lambda value: value is None,  # an intl header has no such key: its bytes and hash as before
        description="gm chains only: RFC 6962 SHA-256 root of the same log (the C2SP checkpoints' tree)",
    )

    @field_validator("log_root_sha256", mode="before")
    @classmethod
    def _absent_not_null(cls, value: object) -> object:
        """Absent or a root, never ``null``: the hash leaves the key out when there is no root,
        so a header carrying a null would verify under bytes the orderer never wrote."""
        if value is None:
            raise ValueError("log_root_sha256 is absent or a root, never null")
        return value

    def block_hash(self, suite: CryptoSuite | None = None) -> str:
        """The chain suite's hash (SHA-256 when None or intl; SM3 on a gm chain) over the RFC 8785
        bytes of the header: the block's identity."""
        body = canonical_bytes(self.model_dump())
        return sha256_hex(body) if suite is None else suite.hash(body).hex()


class Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    header: BlockHeader
    hash: str = Field(pattern=HEX64_PATTERN)
    signature: str = Field(
        pattern=r"^[0-9a-f]{128}$",
        description="orderer's signature (Ed25519, or SM2 r || s on a gm chain) of the raw block hash",
    )
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
        """Parse wire bytes strictly (:func:`~govchain.protocol.jsontext.parse_json_object`
        rules, the strict header model); raise :class:`BlockVerificationError` otherwise.

        A block as the orderer writes it takes :func:`_parse_fast`, which reaches the same
        result for less; anything it does not accept is parsed again by the reference path,
        so every refusal (and its message) is the reference's."""
        block = _parse_fast(raw)
        if block is not None:
            return block
        try:
            return cls.model_validate(parse_json_object(raw, what="block", max_depth=MAX_EVENT_DEPTH + 2))
        except (ValueError, ValidationError) as exc:
            height = -1 if height_hint is None else height_hint
            raise BlockVerificationError(height, f"not a well-formed block: {exc}") from exc

    def leaf_hashes(self, suite: CryptoSuite | None = None) -> list[bytes]:
        """RFC 9162 leaf hashes of the events, in block order, in the chain's suite."""
        hash_leaf = leaf_hasher(suite)
        return [hash_leaf(canonical_bytes(event)) for event in self.events]

    def has_valid_signature(self, public_key: PublicKey) -> bool:
        return public_key.key_id == self.header.orderer and public_key.verify(
            bytes.fromhex(self.signature), bytes.fromhex(self.hash)
        )


_BLOCK_KEYS = frozenset(Block.model_fields)
_HEX64 = re.compile(HEX64_PATTERN.removeprefix("^").removesuffix("$"))
_HEX128 = re.compile(r"[0-9a-f]{128}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``jsontext``'s duplicate-key refusal, with the loop in C."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate JSON key")
    return result


_decode_strict = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=no_constants).decode


def _nests_within(value: dict[str, Any] | list[Any], levels: int) -> bool:
    """True when the container ``value`` nests at most ``levels`` levels, itself included
    (what :func:`~govchain.protocol.jsontext.nesting_depth` measures on its text), and every
    integer in it is a safe one (``jsontext`` reads other digits its own way: see ``_json_int``)."""
    if levels <= 0:
        return False
    items: Any = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if kind is int:
            if not -SAFE_INTEGER <= item <= SAFE_INTEGER:
                return False
        elif (kind is dict or kind is list) and not _nests_within(item, levels - 1):
            return False
    return True


def _parse_fast(raw: bytes) -> Block | None:
    """The block, read exactly as ``Block.model_validate(parse_json_object(raw, ...))`` reads
    it, or None to leave the decision (and the refusal) to that reference path.

    The same rules (no duplicate keys, no NaN), but the depth bound is checked on the parsed
    value instead of scanning the text first (the C parser bounds its own recursion); integers
    beyond 2**53 (which ``jsontext`` may read as doubles) are left to the reference; and the
    events, ``list[dict[str, Any]]``, are taken as parsed instead of being copied by the
    model. The header still goes through its strict model."""
    try:
        value = _decode_strict(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if type(value) is not dict or value.keys() != _BLOCK_KEYS:
        return None
    header, events, block_hash, signature = value["header"], value["events"], value["hash"], value["signature"]
    if (
        type(header) is not dict
        or type(events) is not list
        or type(block_hash) is not str
        or not _HEX64.fullmatch(block_hash)
        or type(signature) is not str
        or not _HEX128.fullmatch(signature)
    ):
        return None
    for event in events:  # the block is level 1, the list level 2: each event may nest MAX_EVENT_DEPTH
        if type(event) is not dict or not _nests_within(event, MAX_EVENT_DEPTH):
            return None
    if not _nests_within(header, MAX_EVENT_DEPTH + 1):  # also: its integers are safe ones
        return None
    try:
        parsed_header = BlockHeader.model_validate(header)
    except ValidationError:
        return None
    return Block.model_construct(header=parsed_header, hash=block_hash, signature=signature, events=events)


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
    sha256_log_after: Frontier | None = None,
) -> Block:
    """Build and sign the next block; ``log_after`` is the event log including its leaves.

    Hashes are the chain's suite's, which is its orderer key's (a chain takes keys of its own
    suite only); ``leaf_hashes`` and ``log_after`` must be of that suite too. A chain that keeps
    a SHA-256 tree (gm) must pass it, after the same leaves, as ``sha256_log_after``; others
    must not."""
    suite = orderer_key.suite
    if (sha256_log_after is not None) != keeps_sha256_tree(suite):
        raise ValueError(f"a {suite.name} block {'needs' if keeps_sha256_tree(suite) else 'has no'} SHA-256 log root")
    sha256_root: dict[str, str] = {}
    if sha256_log_after is not None:
        if sha256_log_after.size != log_after.size:
            raise ValueError("the SHA-256 log must hold the same leaves as the log")
        sha256_root["log_root_sha256"] = sha256_log_after.root().hex()
    header = BlockHeader(
        version=BLOCK_FORMAT_VERSION,
        chain_id=chain_id,
        height=height,
        prev_hash=prev_hash,
        events_root=root_from_leaf_hashes(leaf_hashes, suite).hex(),
        log_root=log_after.root().hex(),
        log_size=log_after.size,
        event_count=len(events),
        time=time,
        orderer=orderer_key.key_id,
        **sha256_root,
    )
    block_hash = header.block_hash(suite)
    signature = orderer_key.sign(bytes.fromhex(block_hash)).hex()
    return Block(header=header, hash=block_hash, signature=signature, events=events)


def block_msg_id(block: Block) -> str:
    """The JetStream ``Nats-Msg-Id`` of a block.

    It names the block's hash, not just its height: two different blocks at one height
    must never be de-duplicated into each other (nats-server #2242), or a racing orderer
    would read the other's block as its own success.
    """
    return f"{block.header.chain_id}.{block.height}.{block.hash}"
