"""The ledger's query API over NATS request/reply: receipts, inclusion and consistency proofs.

Every proof comes with the signed header whose root it leads to, because a proof that is
not tied to a signed head proves nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Literal

from faststream.nats import NatsRouter
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, Field

from govchain.bus import subjects
from govchain.protocol.block import BlockHeader
from govchain.protocol.envelope import EVENT_ID_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.merkle import consistency_proof, inclusion_proof
from govchain.protocol.eventref import event_ref
from govchain.services.ledger.store import EventLocation, LedgerStore


class SignedHead(BaseModel):
    header: BlockHeader
    hash: str
    signature: str


class ReceiptRequest(BaseModel):
    """An event is (source, id): a receipt needs both, as only the publisher asks for it."""

    event_id: str = Field(pattern=EVENT_ID_PATTERN)
    source: str = Field(pattern=PRINCIPAL_PATTERN)


class Receipt(BaseModel):
    source: str
    event_id: str
    status: Literal["committed", "rejected", "pending"]
    height: int | None = None
    position: int | None = None
    leaf_index: int | None = None
    leaf_hash: str | None = None
    block_hash: str | None = None
    reason: str | None = None
    detail: str | None = None
    original_sha256: str | None = None
    """For a refusal: the SHA-256 of the refused bytes, so a publisher can tell its own event's
    refusal from that of someone else's message under the same source and id."""


class ProofRequest(BaseModel):
    event_id: str = Field(pattern=EVENT_ID_PATTERN)
    source: str | None = Field(
        default=None, pattern=PRINCIPAL_PATTERN,
        description="the event's source; may be left out when only one source used the id",
    )
    at_height: int | None = Field(default=None, ge=0, description="prove against this later head")


class InclusionAnswer(BaseModel):
    source: str
    event_id: str
    leaf_hash: str
    leaf_index: int
    tree_size: int
    path: list[str]
    root: str
    block_height: int
    event_height: int
    head: SignedHead


class ConsistencyRequest(BaseModel):
    first_height: int = Field(ge=0)
    second_height: int = Field(ge=0)


class ConsistencyAnswer(BaseModel):
    first_size: int
    second_size: int
    path: list[str]
    first: SignedHead
    second: SignedHead


class QueryError(BaseModel):
    error: str
    code: Literal["not_found", "bad_request", "ambiguous_id"]


def signed_head(store: LedgerStore, height: int) -> SignedHead | None:
    found = store.header(height)
    if found is None:
        return None
    header, block_hash, signature = found
    return SignedHead(header=header, hash=block_hash, signature=signature)


def find_event(store: LedgerStore, event_id: str, source: str | None) -> EventLocation | QueryError:
    """The one event named by ``source/event_id``, or by a bare id that one source alone used."""
    found = store.locate(event_id, source)
    if not found:
        name = event_id if source is None else event_ref(source, event_id)
        return QueryError(error=f"event {name} is not on chain", code="not_found")
    if len(found) > 1:
        sources = ", ".join(sorted(location.source for location in found))
        return QueryError(
            error=f"id {event_id} is used by several sources ({sources}); name the source", code="ambiguous_id"
        )
    return found[0]


def answer_inclusion(store: LedgerStore, request: ProofRequest) -> InclusionAnswer | QueryError:
    location = find_event(store, request.event_id, request.source)
    if isinstance(location, QueryError):
        return location
    height = location.height if request.at_height is None else request.at_height
    if height < location.height:
        return QueryError(error=f"event is in block {location.height}, after {height}", code="bad_request")
    head = signed_head(store, height)
    if head is None:
        return QueryError(error=f"no block at height {height}", code="not_found")
    size = head.header.log_size
    path = store.with_nodes(lambda nodes: inclusion_proof(location.leaf_index, size, nodes))
    return InclusionAnswer(
        source=location.source,
        event_id=location.event_id,
        leaf_hash=location.leaf_hash.hex(),
        leaf_index=location.leaf_index,
        tree_size=size,
        path=[p.hex() for p in path],
        root=head.header.log_root,
        block_height=height,
        event_height=location.height,
        head=head,
    )


def answer_consistency(store: LedgerStore, request: ConsistencyRequest) -> ConsistencyAnswer | QueryError:
    if request.first_height > request.second_height:
        return QueryError(error="first_height must not exceed second_height", code="bad_request")
    first, second = signed_head(store, request.first_height), signed_head(store, request.second_height)
    if first is None or second is None:
        return QueryError(error="no block at one of the heights", code="not_found")
    old, new = first.header.log_size, second.header.log_size
    path = store.with_nodes(lambda nodes: consistency_proof(old, new, nodes))
    return ConsistencyAnswer(first_size=old, second_size=new, path=[p.hex() for p in path], first=first, second=second)


async def answer_receipt(store: LedgerStore, js: JetStreamContext, request: ReceiptRequest) -> Receipt:
    found = await asyncio.to_thread(store.locate, request.event_id, request.source)
    if found:
        location = found[0]
        head = await asyncio.to_thread(signed_head, store, location.height)
        return Receipt(
            source=request.source,
            event_id=request.event_id,
            status="committed",
            height=location.height,
            position=location.position,
            leaf_index=location.leaf_index,
            leaf_hash=location.leaf_hash.hex(),
            block_hash=head.hash if head else None,
        )
    try:
        msg = await js.get_last_msg(
            subjects.REJECTED_STREAM, subjects.rejected_subject(request.source, request.event_id)
        )
    except NotFoundError:
        pass
    else:
        record = json.loads(msg.data)
        return Receipt(
            source=request.source, event_id=request.event_id, status="rejected", reason=record["reason"],
            detail=record["detail"], original_sha256=record.get("original_sha256"),
        )
    return Receipt(source=request.source, event_id=request.event_id, status="pending")


def ledger_router(store: LedgerStore, jetstream: Callable[[], JetStreamContext]) -> NatsRouter:
    """Request/reply handlers; ``jetstream`` gives the connected context once the broker runs."""
    router = NatsRouter()

    @router.subscriber(subjects.LEDGER_RECEIPT)
    async def receipt(request: ReceiptRequest) -> Receipt:
        return await answer_receipt(store, jetstream(), request)

    @router.subscriber(subjects.LEDGER_PROOF)
    async def proof(request: ProofRequest) -> InclusionAnswer | QueryError:
        return await asyncio.to_thread(answer_inclusion, store, request)

    @router.subscriber(subjects.LEDGER_CONSISTENCY)
    async def consistency(request: ConsistencyRequest) -> ConsistencyAnswer | QueryError:
        return await asyncio.to_thread(answer_consistency, store, request)

    @router.subscriber(subjects.LEDGER_HEAD)
    async def head() -> SignedHead | QueryError:
        height = await asyncio.to_thread(store.head_height)
        found = await asyncio.to_thread(signed_head, store, height)
        return found or QueryError(error="the chain has no blocks yet", code="not_found")

    return router
