"""The orderer's decisions for one batch, free of I/O: what goes into the block, what is
refused and why, what is a harmless re-send.

Two steps. :func:`preparse_message` needs no chain state (parse, subject check, leaf hash;
a batch envelope opened into its events), so it runs as messages arrive. :func:`sequence`
walks the batch in order against the chain state, applying each accepted event before
judging the next: a key registered earlier in the block can sign later in it, a key
revoked earlier cannot.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from govchain.bus.subjects import is_batch_subject, split_event_subject
from govchain.crypto import CryptoSuite
from govchain.protocol.batch import MAX_BATCH_BYTES, open_batch
from govchain.protocol.block import Block, seal_block
from govchain.protocol.canonical import sha256_hex
from govchain.protocol.envelope import EVENT_ID_PATTERN, Envelope, parse_event, utc_now
from govchain.protocol.errors import EventRejected, RejectionReason
from govchain.protocol.eventref import EventKey
from govchain.protocol.fastpath import Opened, OpenedEvent, open_batch_parts, open_event_fast
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import Node, extended, leaf_hash, leaf_hasher
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.state import ChainState, apply_event
from govchain.protocol.validation import validate_event
from govchain.protocol.verify import Checkpoint, VerifiedBlock

MAX_KEPT_BYTES = MAX_BATCH_BYTES
"""Original bytes a refusal record keeps whole: any message the orderer could accept. Beyond
this (up to the server's 4 MiB payload limit) a prefix of this length is kept."""
MAX_DETAIL_CHARS = 2000

_T = TypeVar("_T")
_SAFE_ID = re.compile(EVENT_ID_PATTERN)
_SAFE_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(slots=True)
class Intake:
    """One message as taken from stream EVENTS (or one event opened from a batch message).

    Not frozen, like :class:`Parsed`: one is made per event on the orderer's hot path, where a
    frozen dataclass's ``__init__`` costs three times as much. Nothing changes one once made."""

    subject: str
    data: bytes
    msg_id: str | None
    stream_seq: int


@dataclass(frozen=True, slots=True)
class Rejection:
    intake: Intake
    source: str
    event_id: str
    reason: RejectionReason
    detail: str

    def record(self) -> dict[str, Any]:
        """What stream REJECTED keeps: the reason and the original bytes, so nothing is lost.

        Bytes too big to fit one message with their record keep a prefix, and the SHA-256 and
        size of the whole, so the refusal is always recorded and the original still identified."""
        data = self.intake.data
        record = {
            "event_id": self.event_id,
            "source": self.source,
            "subject": self.intake.subject,
            "reason": self.reason.value,
            "detail": self.detail[:MAX_DETAIL_CHARS],
            "intake_seq": self.intake.stream_seq,
            "rejected_at": utc_now(),
            "original_size": len(data),
            "original_sha256": sha256_hex(data),
            "original_b64": base64.b64encode(data[:MAX_KEPT_BYTES]).decode(),
        }
        if len(data) > MAX_KEPT_BYTES:
            record["original_truncated"] = True
        return record

    @property
    def msg_id(self) -> str:
        # Tied to the intake position, so a redelivered message re-rejects idempotently.
        return f"rej.{self.event_id}.{self.intake.stream_seq}"


@dataclass(slots=True)
class Parsed:
    """One event as the intake read it (or the refusal of a message). Read-only by convention."""

    intake: Intake
    envelope: Envelope | None = None
    leaf: bytes = b""
    signing: bytes = b""
    rejection: Rejection | None = None
    record: dict[str, Any] | None = None
    """The signed envelope as the block will store it, when parsing built it anyway."""
    batch_root: bytes | None = None
    """For an event opened from a batch: the root its proof leads to, as the opener derived it."""
    signed: bytes = b""
    """RFC 8785 of the signed envelope (the leaf bytes): what the block's wire form carries."""

    @property
    def size(self) -> int:
        """Bytes this item adds to a block (or to stream REJECTED): the cutter's measure."""
        return len(self.intake.data)


@dataclass
class JudgedBlock:
    """What :func:`sequence` decided of the messages cut for one block: the events it will
    hold, in order, and what was refused or was a harmless re-send. (An ``EventBatch`` is
    something else: many events signed once by a department.)"""

    envelopes: list[Envelope] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    """The accepted events as the block stores them (their signed JSON objects)."""
    leaves: list[bytes] = field(default_factory=list)
    signed: list[bytes] = field(default_factory=list)
    """The accepted events' leaf bytes (RFC 8785 of each record), for the block's wire form."""
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    state_changed: bool = False


def _reject(intake: Intake, envelope: Envelope | None, error: EventRejected) -> Rejection:
    try:
        source = split_event_subject(intake.subject)[0]
    except ValueError:
        source = "unknown"
    if not _SAFE_TOKEN.match(source):
        source = "unknown"
    if envelope is not None:
        event_id = envelope.id
    elif intake.msg_id and _SAFE_ID.match(intake.msg_id):
        event_id = intake.msg_id
    else:
        event_id = f"seq-{intake.stream_seq}"
    return Rejection(intake, source, event_id, error.reason, error.detail)


def preparse_message(intake: Intake, suite: CryptoSuite | None = None) -> list[Parsed]:
    """One message from stream EVENTS as the events it carries: one, or a batch's.

    Total: whatever the bytes, the answer is parsed events or a refusal. A fault of ours on
    some input (an exception no check foresaw) quarantines that message as ``internal_error``
    instead of stopping the orderer, which would meet the same message again on restart."""
    try:
        if is_batch_subject(intake.subject):
            return preparse_batch(intake, suite)
        return [preparse(intake, suite)]
    except Exception as exc:  # noqa: BLE001 - the point: nothing a message holds may stop the ledger
        return [Parsed(intake, rejection=quarantine(intake, exc))]


def quarantine(intake: Intake, exc: BaseException, envelope: Envelope | None = None) -> Rejection:
    """The refusal of a message the orderer failed on unexpectedly, named by the bytes' hash."""
    detail = f"the orderer failed on this message ({type(exc).__name__}); quarantined, sha256 {sha256_hex(intake.data)}"
    return _reject(intake, envelope, EventRejected(RejectionReason.INTERNAL_ERROR, detail))


def _fast(reader: Callable[..., _T | None], *args: Any) -> _T | None:
    """A fast path's answer, or None (the reference decides) should it fail unexpectedly: a
    fault of a shortcut must never turn into a refusal of what the reference accepts."""
    try:
        return reader(*args)
    except Exception:  # noqa: BLE001 - see the docstring; the property tests hunt such faults
        return None


def preparse_batch(intake: Intake, suite: CryptoSuite | None = None) -> list[Parsed]:
    """A batch envelope opened into its events, or refused as a whole when it cannot be.

    Each event gets an intake of its own (its signed form, with its batch proof), so a
    refusal of one event records exactly that event and a receipt finds it by its id."""
    try:
        # The SDK's exact form takes the typed fast path; anything else (and every refusal)
        # the reference reader, which the fast path equals where it answers (see fastpath).
        parts = _fast(open_batch_parts, intake.data, suite)
        if parts is None:
            batch, opened = open_batch(intake.data, suite)
            root = opened[0][1].batch_root
            events = [
                OpenedEvent(envelope, forms.signing, forms.signed, forms.record or {}) for envelope, forms in opened
            ]
        else:
            batch, root, events = parts
        try:
            source = split_event_subject(intake.subject)[0]
        except ValueError as exc:
            raise EventRejected(RejectionReason.SUBJECT_MISMATCH, str(exc)) from exc
        if batch.source != source:
            raise EventRejected(
                RejectionReason.SUBJECT_MISMATCH, f"published on {intake.subject} but the batch is from {batch.source}"
            )
    except EventRejected as error:
        return [Parsed(intake, rejection=_reject(intake, None, error))]
    hash_leaf = leaf_hasher(suite)
    subject, seq = intake.subject, intake.stream_seq
    return [
        Parsed(
            Intake(subject, event.signed, event.envelope.id, seq),
            event.envelope,
            hash_leaf(event.signed),
            event.signing,
            None,
            event.record,
            root,
            event.signed,
        )
        for event in events
    ]


def preparse(intake: Intake, suite: CryptoSuite | None = None) -> Parsed:
    """Stateless checks of one event: well-formed envelope, subject matching it, canonical leaf."""
    envelope: Envelope | None = None
    try:
        opened: Opened | None = _fast(open_event_fast, intake.data)
        envelope, forms = opened or parse_event(intake.data)
        try:
            source, event_type = split_event_subject(intake.subject)
        except ValueError as exc:
            raise EventRejected(RejectionReason.SUBJECT_MISMATCH, str(exc)) from exc
        if (source, event_type) != (envelope.source, envelope.type):
            raise EventRejected(
                RejectionReason.SUBJECT_MISMATCH,
                f"published on {intake.subject} but the event is {envelope.type} from {envelope.source}",
            )
    except EventRejected as error:
        return Parsed(intake, envelope, rejection=_reject(intake, envelope, error))
    return Parsed(
        intake, envelope, leaf_hasher(suite)(forms.signed), forms.signing, record=forms.record, signed=forms.signed
    )


def sequence(
    state: ChainState, parsed: list[Parsed], on_chain: dict[EventKey, bytes], *, block_time: str
) -> JudgedBlock:
    """Judge a batch in order, as the block of time ``block_time``. ``state`` is advanced by
    every accepted state-changing event.

    ``on_chain`` maps the (source, id) of events already in earlier blocks to their leaf
    hash: the same event again is a silent duplicate (already committed); another event of
    the same source under a used id is refused. Ids are per source (CloudEvents), so no
    department can take or block another's.
    An unexpected fault while judging one event quarantines that event alone (see
    :func:`quarantine`); judging reads the state and changes nothing, so the rest of the
    block is judged as if the event had never come.
    """
    batch = JudgedBlock()
    seen = dict(on_chain)
    for item in parsed:
        if item.rejection is not None:
            batch.rejections.append(item.rejection)
            continue
        envelope = item.envelope
        assert envelope is not None
        key = EventKey(envelope.source, envelope.id)
        try:
            earlier = seen.get(key)
            if earlier == item.leaf:
                batch.duplicates += 1
                continue
            if earlier is not None:
                raise EventRejected(
                    RejectionReason.CONFLICTING_ID, f"{key} is already used by another event of {envelope.source}"
                )
            payload = validate_event(state, envelope, item.signing, batch_root=item.batch_root, block_time=block_time)
        except EventRejected as error:
            batch.rejections.append(_reject(item.intake, envelope, error))
            continue
        except Exception as exc:  # noqa: BLE001 - see the docstring
            batch.rejections.append(quarantine(item.intake, exc, envelope))
            continue
        if EVENT_TYPES.changes_state(envelope.type, envelope.schemaversion):
            apply_event(state, envelope, payload)
            batch.state_changed = True
        seen[key] = item.leaf
        batch.envelopes.append(envelope)
        batch.records.append(envelope.to_dict() if item.record is None else item.record)
        batch.leaves.append(item.leaf)
        batch.signed.append(item.signed or envelope.to_bytes())
    return batch


@dataclass(slots=True)
class SealedBlock:
    """A judged block, sealed: what the orderer appends and then indexes."""

    block: Block
    wire: bytes
    """The block as appended to stream BLOCKS (see :func:`block_wire`)."""
    applied: VerifiedBlock
    checkpoint: Checkpoint
    """The checkpoint after this block."""


def seal_judged(checkpoint: Checkpoint, judged: JudgedBlock, *, block_time: str, key: SigningKey) -> SealedBlock:
    """Seal the events ``judged`` accepted as the block after ``checkpoint``: the event log
    extended by their leaves, the header signed (:func:`~govchain.protocol.block.seal_block`),
    and its wire bytes."""
    log_after = checkpoint.log.copy()
    append = log_after.append
    new_nodes = [node for leaf in judged.leaves for node in append(leaf)]
    sha256_log_after = None
    sha256_nodes: list[Node] = []
    if checkpoint.sha256_log is not None:  # a gm chain's SHA-256 tree, over the same leaf bytes
        sha256_log_after, sha256_nodes = extended(checkpoint.sha256_log, map(leaf_hash, judged.signed))
    block = seal_block(
        chain_id=checkpoint.state.chain_id,
        height=checkpoint.height + 1,
        prev_hash=checkpoint.block_hash,
        events=judged.records,
        leaf_hashes=judged.leaves,
        log_after=log_after,
        time=block_time,
        orderer_key=key,
        sha256_log_after=sha256_log_after,
    )
    applied = VerifiedBlock(
        block,
        judged.envelopes,
        judged.leaves,
        checkpoint.log.size,
        judged.state_changed,
        new_nodes,
        checkpoint.state,
        sha256_nodes,
    )
    after = Checkpoint(block.height, block.hash, log_after, checkpoint.state, sha256_log_after)
    return SealedBlock(block, block_wire(block, judged.signed), applied, after)


def block_wire(block: Block, signed: list[bytes]) -> bytes:
    """``block.to_bytes()`` as a JSON value, with each event written as its RFC 8785 bytes
    (``signed``, in block order) instead of being encoded again: the same block to every
    reader (:meth:`Block.from_bytes`), for a twentieth of the cost. The wrapper is not
    canonical in either form; only the header hash and the leaves are."""
    if len(signed) != len(block.events):
        raise ValueError(f"{len(signed)} leaf byte strings for a block of {len(block.events)} events")
    head = block.model_dump_json(exclude={"events"}).encode()
    return head[:-1] + b',"events":[' + b",".join(signed) + b"]}"
