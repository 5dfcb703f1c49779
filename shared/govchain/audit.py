"""Whole-chain verification, as an auditor runs it: every block and every event re-checked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from nats.js import JetStreamContext

from govchain.bus.blocks import follow_blocks, last_height
from govchain.protocol.block import Block
from govchain.protocol.errors import BlockVerificationError
from govchain.protocol.state import ChainState
from govchain.protocol.verify import ChainVerifier


@dataclass
class ChainReport:
    ok: bool
    height: int
    events: int
    first_bad_height: int | None
    detail: str | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


async def verify_chain(
    js: JetStreamContext,
    *,
    genesis_hash: str | None = None,
    on_block: Callable[[int, int], None] | None = None,
) -> ChainReport:
    """Verify blocks 0..newest with full event re-validation; stop at the first bad block.

    ``on_block(height, newest)`` is called after each good block (for a progress bar).
    """
    verifier = ChainVerifier(genesis_hash=genesis_hash, check_events=True)
    newest = await last_height(js)
    events = 0
    async for height, raw in follow_blocks(js, 0, to_height=newest):
        try:
            verified = verifier.verify(Block.from_bytes(raw, height_hint=height))
        except BlockVerificationError as exc:
            return ChainReport(False, verifier.height, events, height, exc.detail)
        events += len(verified.envelopes)
        if on_block is not None:
            on_block(height, newest)
    return ChainReport(True, verifier.height, events, None)


async def chain_state(js: JetStreamContext, *, genesis_hash: str | None = None) -> ChainState:
    """The chain state (principals, keys, roles, policy) after the newest block, verified on the way."""
    verifier = ChainVerifier(genesis_hash=genesis_hash)
    newest = await last_height(js)
    async for height, raw in follow_blocks(js, 0, to_height=newest):
        verifier.verify(Block.from_bytes(raw, height_hint=height))
    if verifier.state is None:
        raise BlockVerificationError(0, "the chain has no genesis block yet")
    return verifier.state
