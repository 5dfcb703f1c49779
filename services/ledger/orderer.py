"""The orderer: takes signed events from stream EVENTS, cuts them into blocks, appends each
block to stream BLOCKS, and only then acknowledges the events.

Exactly-once, end to end:
- a block is appended with ``Nats-Expected-Last-Sequence``: a second orderer working from a
  stale view is refused by the server, so the chain never forks;
- events are acked only after their block is appended and indexed; a crash in between
  redelivers them, and the orderer, having replayed BLOCKS on start, knows they are already
  on chain and acks them without ordering them again.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from govchain.bus import subjects
from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.errors import NATS_ERRORS, is_transient
from govchain.bus.lease import Lease
from govchain.bus.pull import MessagePuller, ensure_durable
from govchain.bus.streams import ensure_streams
from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.crypto import CryptoSuite
from govchain.logs import get_logger
from govchain.protocol import events as ev
from govchain.protocol.block import Block, block_msg_id
from govchain.protocol.cutter import BlockCutter, BlockLimits
from govchain.protocol.envelope import Envelope, utc_now
from govchain.protocol.errors import GovChainError
from govchain.protocol.eventref import EventKey
from govchain.protocol.genesis import genesis_payload, genesis_suite, make_genesis_block
from govchain.protocol.keys import SigningKey
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.verify import ChainVerifier, Checkpoint
from govchain.services.ledger.sequencer import (
    Intake,
    JudgedBlock,
    Parsed,
    Rejection,
    preparse_message,
    quarantine,
    seal_judged,
    sequence,
)
from govchain.services.ledger.store import LedgerStore

log = get_logger("govchain.ledger.orderer")

WRONG_LAST_SEQUENCE = 10071
MAX_ACK_PENDING = 20_000
IDLE_POLL_S = 1.0
QUARANTINE_AFTER = 3
"""Failed judgings of a message, alone, before it is quarantined as ``internal_error``."""


class OrdererFenced(GovChainError):
    """Another orderer appended first: this one's view of the chain is stale."""


class OrdererKeyRevoked(GovChainError):
    """This orderer's key is revoked on chain: any block it signed would fail verification."""


class JudgingFailed(GovChainError):
    """Judging a batch's events failed unexpectedly: a fault that one of its messages causes,
    unlike a store or NATS failure, and so one that retrying the same message repeats."""


@dataclass(frozen=True, slots=True)
class Received:
    """A message from stream EVENTS, already parsed: what the block cutter holds."""

    msg: Msg
    parsed: list[Parsed]
    intake: Intake

    @classmethod
    def of(cls, msg: Msg, suite: CryptoSuite | None = None) -> Received:
        intake = Intake(msg.subject, msg.data, (msg.headers or {}).get("Nats-Msg-Id"), msg.metadata.sequence.stream)
        return cls(msg, preparse_message(intake, suite), intake)

    @property
    def stream_seq(self) -> int:
        return self.intake.stream_seq

    @property
    def size(self) -> int:
        return sum(item.size for item in self.parsed)

    @property
    def changes_state(self) -> bool:
        return any(
            item.envelope is not None and EVENT_TYPES.changes_state(item.envelope.type, item.envelope.schemaversion)
            for item in self.parsed
        )


@dataclass
class CommitReport:
    """What one commit did: the block's height (None when nothing was appended) and counts."""

    height: int | None
    committed: int
    rejected: int
    duplicates: int


class Orderer:
    def __init__(
        self,
        nc: Client,
        store: LedgerStore,
        key: SigningKey,
        genesis: Envelope,
        limits: BlockLimits,
        *,
        genesis_hash: str | None = None,
        ack_wait_s: float = 30.0,
        stream_replicas: int = 1,
        names: ChainNames = DEFAULT,
    ) -> None:
        self.nc = nc
        self.names = names
        """The chain's streams and subjects (its own on a NATS cluster shared by several chains)."""
        self.js: JetStreamContext = nc.jetstream()
        self.store = store
        self.key = key
        self.genesis = genesis
        names.require(genesis_payload(genesis).chain_id)  # before it touches a stream
        self.suite = genesis_suite(genesis)
        """The chain's crypto suite, as its genesis names it."""
        self.limits = limits
        self.genesis_hash = genesis_hash
        self.ack_wait_s = ack_wait_s
        self.stream_replicas = stream_replicas
        self.checkpoint: Checkpoint | None = None
        self._last_time = ""
        self._failures: dict[int, int] = {}
        """Intake sequence → failed judgings of a batch holding that message. A suspect message
        is judged alone next time, so a fault is pinned on the one message that causes it."""

    @property
    def height(self) -> int:
        return -1 if self.checkpoint is None else self.checkpoint.height

    # -- start-up: catch up with the stream, the source of truth

    async def recover(self) -> None:
        """Bring the store up to the last block on stream BLOCKS (publishing genesis if none)."""
        await ensure_streams(self.js, self.stream_replicas, names=self.names)
        if await last_height(self.js, self.names) < 0:
            try:
                await self.append_block(make_genesis_block(self.genesis, self.key))
            except OrdererFenced:
                log.info("genesis already appended by another orderer")
        checkpoint = await asyncio.to_thread(self.store.checkpoint)
        verifier = ChainVerifier(genesis_hash=self.genesis_hash, checkpoint=checkpoint)
        newest = await last_height(self.js, self.names)
        async for height, raw in follow_blocks(self.js, verifier.height + 1, to_height=newest, names=self.names):
            applied = verifier.verify(Block.from_bytes(raw, height_hint=height))
            assert verifier.checkpoint is not None
            await asyncio.to_thread(self.store.record, applied, verifier.checkpoint)
        self.checkpoint = verifier.checkpoint
        header = await asyncio.to_thread(self.store.header, self.height)
        self._last_time = header[0].time if header else ""
        log.info("orderer caught up", height=self.height, log_size=self.checkpoint.log.size if self.checkpoint else 0)

    # -- the loop

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None, lease: Lease | None = None) -> None:
        """Order until ``stop``. With a ``lease``, order only while holding it; otherwise wait
        as a standby, keeping the store current so that a takeover starts almost caught up."""
        await self.recover()
        await ensure_durable(
            self.js,
            self.names.events_stream,
            self.names.events_subjects,
            ConsumerConfig(
                durable_name=subjects.ORDERER_CONSUMER,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait_s,
                max_ack_pending=MAX_ACK_PENDING,
                num_replicas=self.stream_replicas,
            ),
        )
        puller = await MessagePuller(self.nc, self.names.events_stream, subjects.ORDERER_CONSUMER).start()
        if ready is not None:
            ready.set()
        try:
            while not stop.is_set():
                try:
                    if self.checkpoint is None:  # a batch failed and its recovery did not finish
                        await self.recover()
                    if lease is not None and not lease.held:
                        if not await lease.try_acquire():
                            await self.recover()
                            await _pause(stop, lease.ttl_s / 3)
                            continue
                        await self.recover()  # the previous leader may have appended blocks we have not indexed
                    await self._order(puller, stop, lease)
                except NATS_ERRORS as exc:
                    if not is_transient(exc):  # a refusal (bad request, not found): asking again repeats it
                        raise
                    # A cluster electing new leaders answers "unavailable" for a few seconds.
                    log.warning("NATS unavailable; retrying", error=f"{type(exc).__name__}: {exc}")
                    await _pause(stop, 0.5)
        finally:
            if lease is not None:
                await lease.release()
            await puller.close()

    async def _order(self, puller: MessagePuller, stop: asyncio.Event, lease: Lease | None) -> None:
        """The ordering loop; returns on ``stop`` or when the lease is lost."""
        cutter: BlockCutter[Received] = BlockCutter(self.limits)
        pending_since: float | None = None
        renewed = time.monotonic()
        log.info("orderer ordering", height=self.height, limits=str(self.limits))
        while not stop.is_set():
            if lease is not None and time.monotonic() - renewed >= lease.ttl_s / 3:
                if not await lease.renew():
                    for item in cutter.cut():  # not ours to order any more: let the new leader have them
                        await item.msg.nak()
                    await puller.pause()
                    return
                renewed = time.monotonic()
            wait = IDLE_POLL_S if lease is None else min(IDLE_POLL_S, lease.ttl_s / 6)
            if pending_since is not None:
                wait = max(0.001, self.limits.max_wait_s - (time.monotonic() - pending_since))
            try:
                msgs = await puller.fetch(self.limits.max_count, wait)
            except NATS_ERRORS:
                for item in cutter.cut():  # unacked either way; let them come back in order
                    await item.msg.nak()
                raise
            for msg in msgs:
                received = Received.of(msg, self.suite)
                if received.stream_seq in self._failures:  # a suspect: judge it alone
                    if cutter.pending:
                        await self.commit(cutter.cut())
                    await self.commit([received])
                    continue
                batches = cutter.add(
                    received, received.size, count=len(received.parsed), flush_before=received.changes_state
                )
                for batch in batches:
                    await self.commit(batch)
            if cutter.pending and pending_since is None:
                pending_since = time.monotonic()
            if pending_since is not None and time.monotonic() - pending_since >= self.limits.max_wait_s:
                await self.commit(cutter.cut())
            if not cutter.pending:
                pending_since = None
        if cutter.pending:
            await self.commit(cutter.cut())

    # -- one batch

    async def commit(self, received: list[Received]) -> CommitReport:
        """Order one batch: judge, append the block, index it, then ack the events."""
        try:
            report = await self._commit(received)
        except OrdererKeyRevoked:
            raise
        except OrdererFenced as exc:
            log.warning("orderer fenced; catching up", reason=str(exc))
        except JudgingFailed as exc:
            log.error("judging a batch failed; its messages will be judged alone", error=repr(exc.__cause__))
            if await self._count_failure(received, exc):
                return CommitReport(None, 0, 1, 0)
        except Exception:
            log.exception("batch failed; catching up before retrying its events")
        else:
            for item in received:
                self._failures.pop(item.stream_seq, None)
            return report
        # The in-memory state may have seen events the chain did not: reload it from the
        # store and the stream. Unacked events come back and are judged again.
        self.checkpoint = None  # nothing is ordered until recover() has succeeded
        for item in received:
            try:
                await item.msg.nak()
            except NATS_ERRORS:
                pass  # whatever NATS answers, it is redelivered after ack_wait anyway
        await self.recover()
        return CommitReport(None, 0, 0, 0)

    async def _commit(self, received: list[Received]) -> CommitReport:
        assert self.checkpoint is not None, "recover() first"
        self.checkpoint.state.height = self.checkpoint.height + 1
        own = self.checkpoint.state.keys.get(self.key.key_id)
        if own is None or own.owner != ev.LEDGER or not own.usable_at(self.checkpoint.state.height):
            raise OrdererKeyRevoked(f"orderer key {self.key.key_id} is not an active orderer key on chain")
        parsed = [item for message in received for item in message.parsed]
        keys = [EventKey(p.envelope.source, p.envelope.id) for p in parsed if p.envelope is not None]
        on_chain = await asyncio.to_thread(self.store.included, keys)
        block_time = max(utc_now(), self._last_time)  # block time never runs backwards
        try:
            batch = sequence(self.checkpoint.state, parsed, on_chain, block_time=block_time)
        except Exception as exc:
            raise JudgingFailed(str(exc)) from exc
        await self._publish_rejections(batch.rejections)
        height = await self._append_batch(batch, block_time) if batch.envelopes else None
        for message in received:
            await message.msg.ack()
        if batch.rejections:
            log.info(
                "events rejected",
                count=len(batch.rejections),
                reasons=sorted({r.reason.value for r in batch.rejections}),
            )
        return CommitReport(height, len(batch.envelopes), len(batch.rejections), batch.duplicates)

    async def _count_failure(self, received: list[Received], exc: JudgingFailed) -> bool:
        """Count a failed judging against each message; quarantine a lone message that has
        failed :data:`QUARANTINE_AFTER` times. True when it was quarantined (and acked)."""
        for item in received:
            self._failures[item.stream_seq] = self._failures.get(item.stream_seq, 0) + 1
        if len(received) != 1 or self._failures[received[0].stream_seq] < QUARANTINE_AFTER:
            return False
        item = received[0]
        cause = exc.__cause__ or exc
        named = [quarantine(p.intake, cause, p.envelope) for p in item.parsed if p.envelope is not None]
        await self._publish_rejections(named or [quarantine(item.intake, cause)])  # under each event's own id
        await item.msg.ack()
        self._failures.pop(item.stream_seq, None)
        log.error("message quarantined as internal_error", intake_seq=item.stream_seq, error=repr(cause))
        # Judging may have changed the in-memory state before it failed: reload it.
        self.checkpoint = None
        await self.recover()
        return True

    async def _publish_rejections(self, rejections: list[Rejection]) -> None:
        for rejection in rejections:
            await self.js.publish(
                self.names.rejected_subject(rejection.source, rejection.event_id),
                json.dumps(rejection.record()).encode(),
                stream=self.names.rejected_stream,
                headers={"Nats-Msg-Id": rejection.msg_id},
            )

    async def _append_batch(self, batch: JudgedBlock, block_time: str) -> int:
        assert self.checkpoint is not None
        sealed = seal_judged(self.checkpoint, batch, block_time=block_time, key=self.key)
        await self.append_block(sealed.block, sealed.wire)
        await asyncio.to_thread(self.store.record, sealed.applied, sealed.checkpoint)
        self.checkpoint = sealed.checkpoint
        self._last_time = block_time
        return sealed.block.height

    async def append_block(self, block: Block, wire: bytes | None = None) -> None:
        """Append one block at exactly its height, or raise :class:`OrdererFenced`. ``wire``,
        when given, is the block's wire form (:func:`~govchain.services.ledger.sequencer.block_wire`)."""
        expected_last = subjects.block_sequence(block.height) - 1
        try:
            ack = await self.js.publish(
                self.names.blocks_subject,
                block.to_bytes() if wire is None else wire,
                stream=self.names.blocks_stream,
                headers={
                    "Nats-Msg-Id": block_msg_id(block),
                    "Nats-Expected-Last-Sequence": str(expected_last),
                },
            )
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise OrdererFenced(f"block {block.height} refused: {exc.description}") from exc
            raise
        if ack.seq != subjects.block_sequence(block.height):
            raise OrdererFenced(f"block {block.height} landed at sequence {ack.seq}")


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
