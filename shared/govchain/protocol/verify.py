"""Block-by-block chain verification, shared by projections, downstream systems and auditors.

A :class:`ChainVerifier` accepts block h only if it links to block h-1, its Merkle roots
recompute, its header hash recomputes, and an orderer key valid as of the chain signed it.
With ``check_events`` it also re-validates every event against the chain state before it,
which is what an auditor runs; projections may skip that and trust the orderer's signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from govchain.protocol import events as ev
from govchain.protocol.block import ZERO_HASH, Block, BlockHeader
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import Envelope
from govchain.protocol.eventref import EventKey
from govchain.protocol.errors import (
    BlockVerificationError,
    CanonicalizationError,
    EventRejected,
)
from govchain.protocol.merkle import Frontier, Node, leaf_hash, root_from_leaf_hashes
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event


@dataclass(slots=True)
class VerifiedBlock:
    """A block that passed verification, with the derived facts a projection stores."""

    block: Block
    envelopes: list[Envelope]
    leaf_hashes: list[bytes]
    first_leaf_index: int
    state_changed: bool
    new_nodes: list[Node]
    """Perfect-subtree nodes the block's leaves completed: what a proof store persists."""
    state: ChainState
    """The chain state after this block (read-only for projections: the verifier owns it)."""


@dataclass(slots=True)
class Checkpoint:
    """Everything a verifier needs to resume after block ``height`` without replaying the chain."""

    height: int
    block_hash: str
    log: Frontier
    state: ChainState

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "block_hash": self.block_hash,
            "log_size": self.log.size,
            "log": self.log.to_json(),
            "state": self.state.to_json(),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Checkpoint:
        return cls(
            height=value["height"],
            block_hash=value["block_hash"],
            log=Frontier.from_json(value["log_size"], value["log"]),
            state=ChainState.from_json(value["state"]),
        )


@dataclass
class ChainVerifier:
    genesis_hash: str | None = None
    """Pin of block 0's hash (the trust anchor); when None, block 0 is trusted on first use."""
    check_events: bool = False
    checkpoint: Checkpoint | None = None
    _seen_ids: set[EventKey] = field(default_factory=set)
    """(source, id) of every event so far, when ``check_events``: each may be included once."""

    @property
    def height(self) -> int:
        return -1 if self.checkpoint is None else self.checkpoint.height

    @property
    def state(self) -> ChainState | None:
        return None if self.checkpoint is None else self.checkpoint.state

    def verify(self, block: Block) -> VerifiedBlock:
        """Verify ``block`` as the next block and advance; raise :class:`BlockVerificationError`."""
        height = block.header.height
        fail = _Fail(self.height + 1)  # where the chain breaks, whatever the block claims
        if height != self.height + 1:
            raise fail(f"the block claims height {height}")
        try:
            header_hash = block.header.block_hash()
        except CanonicalizationError as exc:  # e.g. a number beyond 2**53 in the header
            raise fail(f"the header has no canonical form: {exc}") from exc
        if header_hash != block.hash:
            raise fail("header hash does not match the block hash (header altered)")
        envelopes = _parse_events(block, fail)
        try:
            leaves = [leaf_hash(canonical_bytes(event)) for event in block.events]
        except CanonicalizationError as exc:
            raise fail(str(exc)) from exc
        if block.header.event_count != len(leaves):
            raise fail(f"header counts {block.header.event_count} events, block has {len(leaves)}")
        if root_from_leaf_hashes(leaves).hex() != block.header.events_root:
            raise fail("events Merkle root does not match the events (events altered)")

        previous = self.checkpoint
        if previous is None:
            genesis_state = self._begin(block, envelopes, fail)
        else:
            self._check_link(block.header, previous, fail)
        log = previous.log.copy() if previous is not None else Frontier()
        first_leaf = log.size
        new_nodes = [node for leaf in leaves for node in log.append(leaf)]
        if log.size != block.header.log_size or log.root().hex() != block.header.log_root:
            raise fail("log root does not match the log after this block")

        new_ids: set[EventKey] = set()
        if previous is None:
            state = genesis_state
            self._check_signature(block, state, fail)
            state_changed = True
        else:
            # The orderer key must be valid as of the chain before this block (so a revoked
            # key signs nothing more), and a block that fails leaves the verifier unchanged:
            # state-changing events are applied to a copy of the state.
            state = previous.state
            earlier_height, state.height = state.height, height
            try:
                self._check_signature(block, state, fail)
                if any(EVENT_TYPES.changes_state(e.type, e.schemaversion) for e in envelopes):
                    state = state.copy()
                state_changed = self._apply_events(state, envelopes, block.header.time, new_ids, fail)
            except BlockVerificationError:
                previous.state.height = earlier_height
                raise

        self._seen_ids |= new_ids
        self.checkpoint = Checkpoint(height, block.hash, log, state)
        return VerifiedBlock(block, envelopes, leaves, first_leaf, state_changed, new_nodes, state)

    def _begin(self, block: Block, envelopes: list[Envelope], fail: _Fail) -> ChainState:
        header = block.header
        if self.genesis_hash is not None and block.hash != self.genesis_hash:
            raise fail(f"genesis hash {block.hash} is not the pinned {self.genesis_hash}")
        if header.prev_hash != ZERO_HASH or len(envelopes) != 1:
            raise fail("genesis must link to the zero hash and hold exactly the genesis event")
        genesis = envelopes[0]
        if genesis.type != "chain.genesis" or genesis.source != ev.ROOT:
            raise fail("the genesis block does not carry a chain.genesis event from root")
        try:
            payload = ev.ChainGenesis.model_validate(genesis.data)
        except ValidationError as exc:
            raise fail(f"invalid genesis payload: {exc.error_count()} error(s)") from exc
        state = ChainState.from_genesis(payload)
        if state.chain_id != header.chain_id:
            raise fail("genesis chain id differs from the header's")
        root = state.keys.get(genesis.signer)
        if root is None or root.owner != ev.ROOT or not genesis.has_valid_signature(root.public_key):
            raise fail("genesis event is not signed by a root key it names")
        self._seen_ids.add(EventKey(genesis.source, genesis.id))
        return state

    @staticmethod
    def _check_link(header: BlockHeader, checkpoint: Checkpoint, fail: _Fail) -> None:
        if header.chain_id != checkpoint.state.chain_id:
            raise fail(f"block of chain {header.chain_id}, expected {checkpoint.state.chain_id}")
        if header.prev_hash != checkpoint.block_hash:
            raise fail("previous-hash link is broken")

    @staticmethod
    def _check_signature(block: Block, state: ChainState, fail: _Fail) -> None:
        record = state.keys.get(block.header.orderer)
        if record is None or record.owner != ev.LEDGER:
            raise fail(f"block signed by {block.header.orderer}, which is no orderer key")
        if not record.usable_at(block.header.height):
            raise fail(f"block signed by {block.header.orderer}, a revoked or rotated-out orderer key")
        if not block.has_valid_signature(record.public_key):
            raise fail("orderer signature does not verify")

    def _apply_events(
        self, state: ChainState, envelopes: list[Envelope], block_time: str, new_ids: set[EventKey], fail: _Fail
    ) -> bool:
        changed = False
        for index, envelope in enumerate(envelopes):
            stateful = EVENT_TYPES.changes_state(envelope.type, envelope.schemaversion)
            if not (self.check_events or stateful):
                continue
            try:
                payload = validate_event(state, envelope, block_time=block_time)
            except EventRejected as exc:
                raise fail(f"event {index} ({envelope.id}) is invalid: {exc}") from exc
            if self.check_events:
                key = EventKey(envelope.source, envelope.id)
                if key in self._seen_ids or key in new_ids:
                    raise fail(f"event {key} is included twice")
                new_ids.add(key)
            if stateful:
                apply_event(state, envelope, payload)
                changed = True
        return changed


class _Fail:
    """Makes the verification error of one block height."""

    def __init__(self, height: int) -> None:
        self.height = height

    def __call__(self, detail: str) -> BlockVerificationError:
        return BlockVerificationError(self.height, detail)


def _parse_events(block: Block, fail: _Fail) -> list[Envelope]:
    """Parse the block's events, which must be stored exactly in their signed normal form:
    otherwise a leaf would commit to bytes other than the ones the signature covers."""
    envelopes = []
    for index, event in enumerate(block.events):
        try:
            envelope = Envelope.model_validate(event)
        except ValidationError as exc:
            raise fail(f"event {index} is not a well-formed envelope") from exc
        if not envelope.is_signed or envelope.to_dict() != event:
            raise fail(f"event {index} is not stored in its signed normal form")
        envelopes.append(envelope)
    return envelopes
