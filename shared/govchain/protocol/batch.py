"""Batch envelopes: many events of one department, signed once, published as one message.

On the wire a batch is ``{"source", "signer", "signature", "events": [...]}`` on
``gov.events.<dept>._batch``, where each event is an unsigned envelope (no ``signature``) and
``signature`` is the signer's Ed25519 signature of the RFC 9162 root over the events'
signing bytes (:func:`govchain.protocol.batchproof.batch_root_message`). The orderer opens the
batch into ordinary events, each carrying its :class:`BatchProof`, and judges every one of
them alone, as of the chain before it, exactly as if it had been published by itself.

Batches carry the business events a department publishes in volume. Events that change
identity, keys, policy or contracts travel alone, so the rules that judge a block's events
never change inside a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from govchain.crypto import CryptoSuite
from govchain.protocol.batchproof import MAX_BATCH_EVENTS, BatchProof, batch_root_message
from govchain.protocol.canonical import canonical_bytes, sha256_hex
from govchain.protocol.envelope import (
    HEX64_PATTERN,
    PRINCIPAL_PATTERN,
    CanonicalForms,
    Envelope,
    check_leaf_size,
    describe_error,
    refusal_reason,
)
from govchain.protocol.errors import CanonicalizationError, EventRejected, RejectionReason
from govchain.protocol.jsontext import MAX_EVENT_DEPTH, parse_json_object
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import all_inclusion_proofs, leaf_hasher
from govchain.protocol.registry import EVENT_TYPES

_ENVELOPES = TypeAdapter(list[Envelope])
"""One validator call for a whole batch's events, not one per event."""

MAX_BATCH_BYTES = 1024 * 1024
"""The wire message. Opened, each event gains a proof of at most ~880 bytes, so a batch's
events take at most about 1.9 MB in a block: within the NATS payload limit (4 MB here)."""


class EventBatch(BaseModel):
    """A batch envelope as published."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(pattern=PRINCIPAL_PATTERN)
    signer: str = Field(pattern=HEX64_PATTERN)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH_EVENTS)

    def to_bytes(self) -> bytes:
        return canonical_bytes(self.model_dump())

    @property
    def msg_id(self) -> str:
        """``Nats-Msg-Id`` of the batch: a re-sent batch is de-duplicated like a re-sent event.
        It is also the id a refusal of the whole batch is recorded under."""
        # Ed25519 signatures are deterministic: the same events signed again give the same id.
        return "batch-" + sha256_hex(bytes.fromhex(self.signature))[:48]


def sign_batch(key: SigningKey, events: Sequence[Envelope]) -> EventBatch:
    """What a department's SDK does: sign ``events`` (unsigned or not; any signature is
    dropped) as one batch under ``key``. All must come from one source, with distinct ids,
    and none may change chain state: the orderer's own rules, checked here by opening the
    signed batch as the orderer will, so a batch it would refuse is never published."""
    if not 1 <= len(events) <= MAX_BATCH_EVENTS:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_EVENTS} events, not {len(events)}")
    bodies = [
        event.model_copy(update={"signer": key.key_id, "signature": None, "batchproof": None}).unsigned_dict()
        for event in events
    ]
    suite = key.suite  # the chain's: it takes keys of its own suite only
    hash_leaf = leaf_hasher(suite)
    root, _ = all_inclusion_proofs([hash_leaf(canonical_bytes(body)) for body in bodies], suite)
    signature = key.sign(batch_root_message(root, len(bodies))).hex()
    batch = EventBatch(source=events[0].source, signer=key.key_id, signature=signature, events=bodies)
    try:
        open_batch(batch.to_bytes(), suite)
    except EventRejected as exc:
        raise ValueError(exc.detail) from None
    return batch


def open_batch(
    raw: bytes, suite: CryptoSuite | None = None
) -> tuple[EventBatch, list[tuple[Envelope, CanonicalForms]]]:
    """Parse a batch message into its events, each with its batch proof and canonical forms,
    the batch tree hashed in the chain's ``suite`` (SHA-256 when None).

    A batch that cannot be opened is refused as a whole (:class:`EventRejected`). Its
    signature is *not* checked here: each event's proof is checked when the event is judged
    against the chain, where its signer's key is known (and the one Ed25519 check is shared).
    """
    if len(raw) > MAX_BATCH_BYTES:
        raise _refused(RejectionReason.OVERSIZED, f"batch is {len(raw)} bytes; the limit is {MAX_BATCH_BYTES}")
    try:
        batch = EventBatch.model_validate(parse_json_object(raw, what="batch", max_depth=MAX_EVENT_DEPTH + 2))
        envelopes = _ENVELOPES.validate_python(batch.events)
    except (ValueError, ValidationError) as exc:
        raise _refused(refusal_reason(exc), describe_error(exc)) from exc
    _check_members(batch, envelopes)
    bodies = [envelope.unsigned_dict() for envelope in envelopes]
    try:
        signing = [canonical_bytes(body) for body in bodies]
    except CanonicalizationError as exc:
        raise _refused(RejectionReason.MALFORMED_ENVELOPE, str(exc)) from exc
    hash_leaf = leaf_hasher(suite)
    root, paths = all_inclusion_proofs([hash_leaf(body) for body in signing], suite)
    size, opened = len(envelopes), []
    for index, (envelope, body, signed_body, path) in enumerate(zip(envelopes, bodies, signing, paths, strict=True)):
        hex_path = [node.hex() for node in path]
        proof = BatchProof.model_construct(index=index, size=size, path=hex_path, signature=batch.signature)
        signed = with_batchproof(signed_body, proof)
        try:  # the leaf limit of an event published alone holds here too, batch proof included
            check_leaf_size(signed)
        except EventRejected as exc:
            raise _refused(exc.reason, f"event {index}: {exc.detail}") from None
        body["batchproof"] = {"index": index, "path": hex_path, "signature": batch.signature, "size": size}
        forms = CanonicalForms(signed_body, signed, body, root)
        opened.append((envelope.model_copy(update={"batchproof": proof}), forms))
    return batch, opened


def with_batchproof(signing: bytes, proof: BatchProof) -> bytes:
    """RFC 8785 of the event with its proof, from its signing bytes without re-encoding them:
    JCS sorts keys, and ``batchproof`` sorts before every other envelope attribute."""
    return b'{"batchproof":' + proof.to_bytes() + b"," + signing[1:]


def _check_members(batch: EventBatch, envelopes: list[Envelope]) -> None:
    seen: set[str] = set()
    for index, envelope in enumerate(envelopes):
        if envelope.is_signed:
            raise _refused(RejectionReason.MALFORMED_ENVELOPE, f"event {index} is signed itself; batch events are not")
        if (envelope.source, envelope.signer) != (batch.source, batch.signer):
            raise _refused(
                RejectionReason.SUBJECT_MISMATCH,
                f"event {index} is from {envelope.source}; a batch has one source and one signer",
            )
        if EVENT_TYPES.any_version_changes_state(envelope.type):
            raise _refused(
                RejectionReason.UNAUTHORIZED,
                f"event {index} ({envelope.type}) changes chain state and must be published alone",
            )
        if envelope.id in seen:
            raise _refused(RejectionReason.CONFLICTING_ID, f"event id {envelope.id} repeats inside the batch")
        seen.add(envelope.id)


def _refused(reason: RejectionReason, detail: str) -> EventRejected:
    return EventRejected(reason, f"batch refused: {detail}")
