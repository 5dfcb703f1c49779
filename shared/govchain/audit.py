"""Whole-chain verification, as an auditor runs it: every block and every event re-checked."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from nats.js import JetStreamContext

from govchain.bus.blocks import follow_block_batches, follow_blocks, last_height
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.projection.progress import VERIFY, CatchUpReporter, catch_up_reporter, report_events
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
    seconds: float = 0.0
    """Wall-clock time the verification took."""
    events_per_s: float = 0.0
    """Events verified per second (every one re-validated, every block's roots and links)."""
    crypto: str | None = None
    """The chain's crypto profile (``intl`` or ``gm``), as its genesis names it; None before genesis."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


async def verify_chain(
    js: JetStreamContext,
    *,
    genesis_hash: str | None = None,
    on_block: Callable[[int, int], None] | None = None,
    progress: CatchUpReporter | None = None,
    names: ChainNames = DEFAULT,
) -> ChainReport:
    """Verify blocks 0..newest with full event re-validation; stop at the first bad block.

    ``on_block(height, newest)`` is called after each good block (for a progress bar).
    Progress and rate (events per second) go to ``progress`` under the name ``verify``
    (default: the process's :func:`~govchain.projection.progress.catch_up_reporter`, unless
    ``on_block`` is given: that caller shows its own progress), as a catching-up projection's do.
    """
    verifier = ChainVerifier(genesis_hash=genesis_hash, check_events=True)
    newest = await last_height(js, names)
    reporter = progress if progress is not None else catch_up_reporter()
    reporting = newest >= 0 and (progress is not None or on_block is None)
    if reporting:
        reporter.started(VERIFY, -1, newest)
    began = time.perf_counter()
    events = 0

    def report(ok: bool, first_bad: int | None = None, detail: str | None = None) -> ChainReport:
        seconds = time.perf_counter() - began
        rate = events / seconds if seconds > 0 else 0.0
        state = verifier.state
        crypto = None if state is None else state.suite.name
        return ChainReport(ok, verifier.height, events, first_bad, detail, seconds, rate, crypto)

    try:
        async for blocks in follow_block_batches(js, 0, to_height=newest, names=names):
            for height, raw in blocks:
                try:
                    verified = verifier.verify(Block.from_bytes(raw, height_hint=height))
                except BlockVerificationError as exc:
                    return report(False, height, exc.detail)
                events += len(verified.leaf_hashes)
                if on_block is not None:
                    on_block(height, newest)
            if reporting:
                report_events(reporter, VERIFY, events)
                reporter.advanced(VERIFY, verifier.height, newest)
        return report(True)
    finally:
        if reporting:
            reporter.finished(VERIFY, verifier.height)


async def chain_state(
    js: JetStreamContext, *, genesis_hash: str | None = None, names: ChainNames = DEFAULT
) -> ChainState:
    """The chain state (principals, keys, roles, policy) after the newest block, verified on the way."""
    verifier = ChainVerifier(genesis_hash=genesis_hash)
    newest = await last_height(js, names)
    async for height, raw in follow_blocks(js, 0, to_height=newest, names=names):
        verifier.verify(Block.from_bytes(raw, height_hint=height))
    if verifier.state is None:
        raise BlockVerificationError(0, "the chain has no genesis block yet")
    return verifier.state
