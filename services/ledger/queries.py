"""The ledger's query API over NATS request/reply: receipts, inclusion and consistency proofs.

Every proof comes with the signed header whose root it leads to, because a proof that is
not tied to a signed head proves nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from faststream.nats import NatsRouter
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, Field

from govchain.bus.subjects import DEFAULT, ChainNames
from govchain.protocol.block import BlockHeader
from govchain.protocol.envelope import EVENT_ID_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.eventref import event_ref
from govchain.protocol.merkle import inclusion_proof
from govchain.services.ledger.checkpoints import checkpointed_tree, newest_checkpoint
from govchain.services.ledger.store import EventLocation, LedgerStore
from govchain.transparency.checkpoint import Tree
from govchain.transparency.errors import TileUnavailable
from govchain.transparency.tiles import MAX_LEVEL, TILE_WIDTH, Tile, tile_for_tree


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
        default=None,
        pattern=PRINCIPAL_PATTERN,
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


TreeField = Annotated[
    Tree,
    Field(
        description="the chain's own tree, or `sha256`: a gm chain's SHA-256 tree (origin `<origin>/sha256`, "
        "for stock C2SP witnesses), which on an intl chain is its own",
    ),
]


class ConsistencyRequest(BaseModel):
    first_height: int = Field(ge=0)
    second_height: int = Field(ge=0)
    tree: TreeField = "chain"


class ConsistencyAnswer(BaseModel):
    first_size: int
    second_size: int
    path: list[str]
    first: SignedHead
    second: SignedHead


class QueryError(BaseModel):
    error: str
    code: Literal["not_found", "bad_request", "ambiguous_id"]


class CheckpointRequest(BaseModel):
    """The newest witnessed checkpoint of one of the log's trees."""

    tree: TreeField = "chain"


class CheckpointAnswer(BaseModel):
    origin: str
    size: int
    root: str
    height: int = Field(description="the block after which the log has ``size`` leaves")
    note: str = Field(description="the c2sp.org/tlog-checkpoint note: the log's signature and the cosignatures")
    cosigners: list[str]
    policy: dict[str, Any] | None = Field(description="the witness policy the checkpoint was cosigned under")
    policy_height: int | None = Field(
        default=None, description="the block holding the root-signed witness.policy_set that set ``policy``"
    )
    published: str
    head_height: int = Field(description="the newest block the ledger has indexed (the cosigned size may lag)")
    head_size: int


class TileRequest(BaseModel):
    level: int = Field(ge=0, le=MAX_LEVEL)
    index: int = Field(ge=0, le=2**53)
    width: int = Field(default=TILE_WIDTH, ge=1, le=TILE_WIDTH)
    tree: TreeField = "chain"


class TileAnswer(BaseModel):
    level: int
    index: int
    width: int
    tree_size: int = Field(description="the log size the tile was checked against (the newest)")
    data: str = Field(description="base64 of the tile: its hashes, 32 bytes each")


class LeavesRequest(BaseModel):
    start: int = Field(ge=0, le=2**53)
    count: int = Field(ge=1, le=TILE_WIDTH)


class LeavesAnswer(BaseModel):
    start: int
    locations: list[tuple[int, int]] = Field(description="(block height, position) of each leaf, in log order")


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
    path = store.with_nodes(lambda nodes: inclusion_proof(location.leaf_index, size, nodes, store.suite))
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
    path = store.consistency_proof(old, new, request.tree)
    return ConsistencyAnswer(first_size=old, second_size=new, path=[p.hex() for p in path], first=first, second=second)


def head_size(store: LedgerStore) -> tuple[int, int]:
    """(height, log size) of the newest indexed block; (-1, 0) before genesis."""
    height = store.head_height()
    found = store.header(height) if height >= 0 else None
    return (height, found[0].log_size) if found is not None else (-1, 0)


async def answer_checkpoint(
    store: LedgerStore, js: JetStreamContext, names: ChainNames = DEFAULT, tree: Tree = "chain"
) -> CheckpointAnswer | QueryError:
    record = await newest_checkpoint(js, names, checkpointed_tree(store, tree))
    if record is None:
        return QueryError(error="no checkpoint has been published yet", code="not_found")
    height, size = await asyncio.to_thread(head_size, store)
    fields = {
        name: record.get(name) for name in CheckpointAnswer.model_fields if name not in ("head_height", "head_size")
    }
    return CheckpointAnswer.model_validate({**fields, "head_height": height, "head_size": size})


def answer_tile(store: LedgerStore, request: TileRequest) -> TileAnswer | QueryError:
    """A hash tile of the log as it stands (tiles of any published size are its prefixes)."""
    _, size = head_size(store)
    tile = Tile(request.level, request.index, request.width)
    try:
        data = store.with_nodes(lambda nodes: tile_for_tree(tile, nodes, size), request.tree)
    except TileUnavailable as exc:
        return QueryError(error=str(exc), code="not_found")
    return TileAnswer(
        level=tile.level,
        index=tile.index,
        width=tile.width,
        tree_size=size,
        data=base64.b64encode(data).decode("ascii"),
    )


async def answer_receipt(
    store: LedgerStore, js: JetStreamContext, request: ReceiptRequest, names: ChainNames = DEFAULT
) -> Receipt:
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
        msg = await js.get_last_msg(names.rejected_stream, names.rejected_subject(request.source, request.event_id))
    except NotFoundError:
        pass
    else:
        record = json.loads(msg.data or b"")
        return Receipt(
            source=request.source,
            event_id=request.event_id,
            status="rejected",
            reason=record["reason"],
            detail=record["detail"],
            original_sha256=record.get("original_sha256"),
        )
    return Receipt(source=request.source, event_id=request.event_id, status="pending")


def ledger_router(
    store: LedgerStore, jetstream: Callable[[], JetStreamContext], names: ChainNames = DEFAULT
) -> NatsRouter:
    """Request/reply handlers on ``names``'s subjects; ``jetstream`` gives the connected context
    once the broker runs."""
    router = NatsRouter()

    @router.subscriber(names.ledger_receipt)
    async def receipt(request: ReceiptRequest) -> Receipt:
        return await answer_receipt(store, jetstream(), request, names)

    @router.subscriber(names.ledger_proof)
    async def proof(request: ProofRequest) -> InclusionAnswer | QueryError:
        return await asyncio.to_thread(answer_inclusion, store, request)

    @router.subscriber(names.ledger_consistency)
    async def consistency(request: ConsistencyRequest) -> ConsistencyAnswer | QueryError:
        return await asyncio.to_thread(answer_consistency, store, request)

    @router.subscriber(names.ledger_checkpoint)
    async def checkpoint(request: CheckpointRequest) -> CheckpointAnswer | QueryError:
        return await answer_checkpoint(store, jetstream(), names, request.tree)

    @router.subscriber(names.ledger_tile)
    async def tile(request: TileRequest) -> TileAnswer | QueryError:
        return await asyncio.to_thread(answer_tile, store, request)

    @router.subscriber(names.ledger_leaves)
    async def leaves(request: LeavesRequest) -> LeavesAnswer:
        found = await asyncio.to_thread(store.leaf_locations, request.start, request.start + request.count)
        return LeavesAnswer(start=request.start, locations=found)

    @router.subscriber(names.ledger_head)
    async def head() -> SignedHead | QueryError:
        height = await asyncio.to_thread(store.head_height)
        found = await asyncio.to_thread(signed_head, store, height)
        return found or QueryError(error="the chain has no blocks yet", code="not_found")

    return router
