"""The projection runner: follow BLOCKS from a stored height, verify, apply, checkpoint.

Every service's read model and any downstream system uses this. It resumes from its own
checkpoint, never from "now", so a slow callback or a dropped connection loses nothing;
it verifies every block before applying it and halts loudly on one that does not verify.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine

from govchain.bus.blocks import follow_block_batches, last_height
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.logs import get_logger
from govchain.projection.checkpoint import load_checkpoint, prepare_checkpoints, save_checkpoint
from govchain.projection.progress import CatchUpReporter, catch_up_reporter, report_events
from govchain.protocol.block import Block
from govchain.protocol.errors import BlockVerificationError
from govchain.protocol.verify import ChainVerifier, Checkpoint, VerifiedBlock

log = get_logger("govchain.projection")


class Projection(Protocol):
    """A read model built from blocks. ``apply`` runs inside the checkpoint's transaction.

    A projection may also define ``after_commit()``: the runner calls it once that
    transaction has committed (the registry then scrubs erased keys from SQLite's WAL, which
    cannot be done inside a transaction)."""

    name: str

    def prepare(self, engine: Engine) -> None:
        """Create or migrate the projection's tables."""
        ...

    def apply(self, conn: Connection, block: VerifiedBlock) -> None: ...


READ_YOUR_WRITES_WAIT_S = 4.0
"""How long a question waits for its ``min_height``: less than a client waits for an answer
(``govchain.client.REQUEST_TIMEOUT_S``, 5 s), so a projection still catching up answers
``not_ready`` in words instead of leaving the asker to time out."""


async def wait_for_height(
    current: Callable[[], int], min_height: int | None, timeout: float = READ_YOUR_WRITES_WAIT_S
) -> bool:
    """Read-your-writes: wait (bounded) until a projection has applied ``min_height``."""
    if min_height is None:
        return True
    deadline = time.monotonic() + timeout
    while current() < min_height:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


GROUP_BLOCKS = 64
"""Blocks verified, then handed to the store thread together, at most (a reader at the head
gets one or two at a time anyway). Each still commits in a transaction of its own."""


class ProjectionHalted(BlockVerificationError):
    """The runner met a block that does not verify and stopped without applying it."""


class ProjectionRunner:
    def __init__(
        self,
        js: JetStreamContext,
        engine: Engine,
        projection: Projection,
        *,
        genesis_hash: str | None = None,
        check_events: bool = False,
        names: ChainNames = DEFAULT,
    ) -> None:
        self.js = js
        self.names = names
        """Whose chain's blocks to follow (each chain on a shared NATS cluster has its own)."""
        self.engine = engine
        self.projection = projection
        prepare_checkpoints(engine)
        projection.prepare(engine)
        with engine.connect() as conn:
            checkpoint = load_checkpoint(conn, projection.name)
        self.verifier = ChainVerifier(genesis_hash=genesis_hash, check_events=check_events, checkpoint=checkpoint)
        self._committed = self.verifier.height

    @property
    def height(self) -> int:
        """The last height applied and committed; -1 before genesis.

        Not the verifier's height: that moves on when a block is verified, before its rows
        are committed, and a query waiting for a height must not read the rows of before."""
        return self._committed

    async def run(
        self,
        stop: asyncio.Event | None = None,
        *,
        until_height: int | None = None,
        on_block: Callable[[int, int], None] | None = None,
        catch_up: CatchUpReporter | None = None,
    ) -> int:
        """Apply blocks until ``stop`` is set or ``until_height`` is applied; return the height.

        ``on_block(height, until_height)`` is called after each block (for progress bars).
        While the runner replays from its checkpoint up to the head the chain had when it
        started, it reports to ``catch_up`` (default: the process's
        :func:`~govchain.projection.progress.catch_up_reporter`, unless ``on_block`` is given:
        that caller shows its own progress)."""
        stop = stop or asyncio.Event()
        if until_height is not None and self.height >= until_height:
            return self.height
        reporter = catch_up if catch_up is not None else catch_up_reporter()
        name = self.projection.name
        target = await self._catch_up_target(until_height)
        log.info("projection following blocks", projection=name, from_height=self.height + 1)
        catching_up = target > self.height and (catch_up is not None or on_block is None)
        if catching_up:
            reporter.started(name, self.height, target)
        replayed = 0
        try:
            async for blocks in follow_block_batches(
                self.js, self.height + 1, to_height=until_height, stop=stop, names=self.names
            ):
                for group, halted in self._verify_groups(blocks):
                    if group:
                        await asyncio.to_thread(self._commit, group)
                        if catching_up:
                            replayed += sum(len(applied.leaf_hashes) for applied, _ in group)
                            report_events(reporter, name, replayed)
                    for applied, _ in group:
                        height = applied.block.height
                        if catching_up:
                            reporter.advanced(name, height, target)
                            if height >= target:
                                catching_up = False
                                reporter.finished(name, height)
                        if on_block is not None:
                            on_block(height, until_height if until_height is not None else height)
                    if halted is not None:
                        raise halted
                    if stop.is_set():
                        break
                if stop.is_set():
                    break
        finally:
            if catching_up:  # stopped, or halted on a bad block, before reaching the head
                reporter.finished(name, self.height)
        return self.height

    def _verify_groups(
        self, blocks: list[tuple[int, bytes]]
    ) -> Iterator[tuple[list[tuple[VerifiedBlock, Checkpoint]], ProjectionHalted | None]]:
        """Verify ``blocks`` in order, in groups of up to :data:`GROUP_BLOCKS` handed to the
        store thread at once, each block with the checkpoint after it; a block that fails ends
        the last group (the good blocks before it are still applied) and comes with it, to be
        raised once they are committed."""
        group: list[tuple[VerifiedBlock, Checkpoint]] = []
        for height, raw in blocks:
            try:
                applied = self._verify(raw, height)
            except ProjectionHalted as exc:
                yield group, exc
                return
            checkpoint = self.verifier.checkpoint
            assert checkpoint is not None
            group.append((applied, checkpoint))
            if len(group) >= GROUP_BLOCKS:
                yield group, None
                group = []
        if group:
            yield group, None

    async def _catch_up_target(self, until_height: int | None) -> int:
        """The height a catch-up runs to: the chain head now (or ``until_height`` if lower)."""
        try:
            head = await last_height(self.js, self.names)
        except NotFoundError:  # no stream yet (the ledger creates it): nothing to catch up
            return -1
        return head if until_height is None else min(head, until_height)

    def _verify(self, raw: bytes, height: int) -> VerifiedBlock:
        try:
            return self.verifier.verify(Block.from_bytes(raw, height_hint=height))
        except BlockVerificationError as exc:
            log.error(
                "block failed verification; projection halted",
                projection=self.projection.name,
                height=height,
                detail=exc.detail,
            )
            raise ProjectionHalted(height, exc.detail) from exc

    def _commit(self, group: list[tuple[VerifiedBlock, Checkpoint]]) -> None:
        """Apply verified blocks in order, each in its own transaction with the checkpoint after
        it (a block that fails, or a process killed in one, leaves the blocks before it applied
        and itself not at all). One hand-off to this thread for the whole group."""
        for applied, checkpoint in group:
            # The verifier moves an unchanged state's height along with each block it verifies
            # (it has verified the whole group by now): a projection applying a block sees the
            # state as of that block, as when each block was applied right after its verification.
            applied.state.height = applied.block.height
            with self.engine.begin() as conn:
                self.projection.apply(conn, applied)
                save_checkpoint(conn, self.projection.name, checkpoint, state_changed=applied.state_changed)
            self._committed = applied.block.height
            after_commit = getattr(self.projection, "after_commit", None)
            if after_commit is not None:
                after_commit()
