"""The ledger's own store: which events are on chain, where, and the Merkle nodes for proofs.

It is written by the orderer right after it appends a block, and by replay from the BLOCKS
stream (after a crash, or on a standby), always in one transaction with the checkpoint.
The stream stays the source of truth; this store is an index of it that can be rebuilt.

A gm chain's store keeps two Merkle trees over the same leaves: the chain's own (SM3, in
``ledger_merkle_nodes``) and the SHA-256 one its C2SP checkpoints for stock witnesses carry
(``ledger_sha256_nodes``), written in the same transaction as the block. On an intl chain the
chain's own tree is the SHA-256 one and the second table stays empty.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.dialects import sqlite

from govchain.crypto import CryptoSuite, keeps_sha256_tree
from govchain.projection.checkpoint import load_checkpoint, prepare_checkpoints, save_checkpoint
from govchain.protocol.block import BlockHeader
from govchain.protocol.eventref import EventKey
from govchain.protocol.merkle import consistency_proof
from govchain.protocol.verify import Checkpoint, VerifiedBlock
from govchain.storage.migrations import upgrade_to_head
from govchain.transparency.checkpoint import Tree

CHECKPOINT_NAME = "ledger"
MIGRATIONS = Path(__file__).with_name("migrations")
_ID_CHUNK = 500

metadata = MetaData()

blocks = Table(
    "ledger_blocks",
    metadata,
    Column("height", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("header_json", Text, nullable=False),
    Column("signature", String(128), nullable=False),
)

events = Table(
    "ledger_events",
    metadata,
    Column("source", String(64), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("height", Integer, nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("leaf_index", Integer, nullable=False, unique=True),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("type", String(128), nullable=False),
    PrimaryKeyConstraint("source", "event_id"),  # an event is source + id (govchain.protocol.eventref)
)


def _nodes_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("level", Integer, nullable=False),
        Column("idx", Integer, nullable=False),
        Column("hash", LargeBinary(32), nullable=False),
        PrimaryKeyConstraint("level", "idx"),
    )


nodes = _nodes_table("ledger_merkle_nodes")
"""The chain's own tree (its suite's hash)."""
sha256_nodes = _nodes_table("ledger_sha256_nodes")
"""A gm chain's SHA-256 tree over the same leaves (empty on an intl chain)."""


def _insert_many(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Rows (tuples in the table's column order) in one executemany. On SQLite straight to
    the driver with positional parameters: SQLAlchemy's per-row parameter handling cost a third
    more than SQLite's own inserts (7.7 against 5.6 µs per event and node), and a dict per row
    with named parameters another ~2 µs per event (12.9 against 10.3 µs per event for a whole
    block's rows, bench/RESULTS.md). Elsewhere through Core, whose PostgreSQL dialect batches
    the rows itself."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_positional_insert(table), rows)
    else:
        names = table.columns.keys()
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])


@functools.cache
def _positional_insert(table: Table) -> str:
    return str(insert(table).compile(dialect=sqlite.dialect(paramstyle="qmark")))


@functools.cache
def _included_sql(count: int) -> str:
    """SQLite: which of ``count`` (source, event_id) pairs are indexed, each found by its key."""
    pairs = ",".join(["(?,?)"] * count)
    return (
        "SELECT e.source, e.event_id, e.leaf_hash "
        f"FROM (VALUES {pairs}) AS k CROSS JOIN ledger_events AS e "
        "ON e.source = k.column1 AND e.event_id = k.column2"
    )


@dataclass(frozen=True, slots=True)
class EventLocation:
    source: str
    event_id: str
    height: int
    position: int
    leaf_index: int
    leaf_hash: bytes


class StoredNodes:
    """A :class:`govchain.protocol.merkle.NodeSource` over one nodes table of one connection."""

    def __init__(self, conn: Connection, table: Table = nodes) -> None:
        self._conn = conn
        self._table = table

    def perfect_node(self, level: int, index: int) -> bytes:
        nodes = self._table
        value = self._conn.execute(
            select(nodes.c.hash).where(nodes.c.level == level, nodes.c.idx == index)
        ).scalar_one_or_none()
        if value is None:
            raise KeyError((level, index))
        return bytes(value)

    def perfect_nodes(self, level: int, start: int, count: int) -> list[bytes]:
        """Nodes (level, start) .. (level, start + count - 1) in one range scan (a tlog tile
        is 256 of them); KeyError if any is missing (a :class:`~govchain.transparency.tiles.NodeRangeSource`)."""
        nodes = self._table
        rows = self._conn.execute(
            select(nodes.c.idx, nodes.c.hash)
            .where(nodes.c.level == level, nodes.c.idx >= start, nodes.c.idx < start + count)
            .order_by(nodes.c.idx)
        ).all()
        if len(rows) != count:
            have = {row.idx for row in rows}
            raise KeyError((level, next(i for i in range(start, start + count) if i not in have)))
        return [bytes(row.hash) for row in rows]


class LedgerStore:
    def __init__(self, engine: Engine, suite: CryptoSuite | None = None) -> None:
        self.engine = engine
        self.suite = suite
        """The chain's crypto suite, for the proofs built from stored nodes (None: SHA-256)."""
        prepare_checkpoints(engine)
        upgrade_to_head(engine, MIGRATIONS)

    def checkpoint(self) -> Checkpoint | None:
        with self.engine.connect() as conn:
            return load_checkpoint(conn, CHECKPOINT_NAME)

    def record(self, applied: VerifiedBlock, checkpoint: Checkpoint) -> None:
        """Index one block and move the checkpoint to it, atomically."""
        self.suite = checkpoint.state.suite
        block = applied.block
        with self.engine.begin() as conn:
            conn.execute(
                insert(blocks).values(
                    height=block.height,
                    hash=block.hash,
                    header_json=json.dumps(block.header.model_dump()),
                    signature=block.signature,
                )
            )
            if applied.envelopes:
                height, first = block.height, applied.first_leaf_index
                _insert_many(  # in the column order of ``events``
                    conn,
                    events,
                    [
                        (envelope.source, envelope.id, height, position, first + position, leaf, envelope.type)
                        for position, (envelope, leaf) in enumerate(
                            zip(applied.envelopes, applied.leaf_hashes, strict=True)
                        )
                    ],
                )
            if applied.new_nodes:
                _insert_many(conn, nodes, [(n.level, n.index, n.hash) for n in applied.new_nodes])
            if applied.sha256_nodes:
                _insert_many(conn, sha256_nodes, [(n.level, n.index, n.hash) for n in applied.sha256_nodes])
            save_checkpoint(conn, CHECKPOINT_NAME, checkpoint, state_changed=applied.state_changed)

    def included(self, keys: Iterable[EventKey]) -> dict[EventKey, bytes]:
        """(source, id) → leaf hash, for those of ``keys`` already on chain."""
        wanted = list(dict.fromkeys(keys))
        found: dict[EventKey, bytes] = {}
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            for start in range(0, len(wanted), _ID_CHUNK):
                chunk = wanted[start : start + _ID_CHUNK]
                if sqlite:
                    # SQLite answers ``(source, event_id) IN ((?, ?), ...)`` by scanning the whole
                    # table (its plan: SCAN ledger_events), so the cost grew with the chain:
                    # 51 µs per event at 10^5 events. Driven by the keys, each is one primary-key
                    # search: 0.4 µs per event at any size (bench/RESULTS.md).
                    rows = conn.exec_driver_sql(
                        _included_sql(len(chunk)), tuple(part for key in chunk for part in key)
                    ).all()
                else:
                    rows = conn.execute(
                        select(events.c.source, events.c.event_id, events.c.leaf_hash).where(
                            tuple_(events.c.source, events.c.event_id).in_(chunk)
                        )
                    ).all()
                found.update((EventKey(source, event_id), bytes(leaf)) for source, event_id, leaf in rows)
        return found

    def locate(self, event_id: str, source: str | None = None) -> list[EventLocation]:
        """Where the event ``source/event_id`` is; with no source, every event of that id
        (one per source that used it), in chain order."""
        where = [events.c.event_id == event_id]
        if source is not None:
            where.append(events.c.source == source)
        with self.engine.connect() as conn:
            rows = conn.execute(select(events).where(*where).order_by(events.c.leaf_index)).all()
        return [
            EventLocation(row.source, row.event_id, row.height, row.position, row.leaf_index, bytes(row.leaf_hash))
            for row in rows
        ]

    def header(self, height: int) -> tuple[BlockHeader, str, str] | None:
        """(header, block hash, orderer signature) of block ``height``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(blocks).where(blocks.c.height == height)).one_or_none()
        if row is None:
            return None
        return BlockHeader.model_validate(json.loads(row.header_json)), row.hash, row.signature

    def head_height(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(blocks.c.height))).scalar_one_or_none()
        return -1 if value is None else int(value)

    def leaf_locations(self, start: int, end: int) -> list[tuple[int, int]]:
        """(block height, position in the block) of leaves ``start`` .. ``end - 1``, in log order:
        where an entry bundle's events are (fewer when the log is shorter)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events.c.height, events.c.position)
                .where(events.c.leaf_index >= start, events.c.leaf_index < end)
                .order_by(events.c.leaf_index)
            ).all()
        return [(row.height, row.position) for row in rows]

    def event_types_between(self, after_height: int, to_height: int) -> set[str]:
        """The event types in blocks ``after_height + 1`` .. ``to_height``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(events.c.type).distinct().where(events.c.height > after_height, events.c.height <= to_height)
            )
            return {row.type for row in rows}

    @property
    def keeps_sha256_tree(self) -> bool:
        """Whether the chain keeps a SHA-256 tree beside its own (gm)."""
        return self.suite is not None and keeps_sha256_tree(self.suite)

    def tree_hasher(self, tree: Tree = "chain") -> CryptoSuite | None:
        """The hash of ``tree`` for :mod:`govchain.protocol.merkle` (None: SHA-256)."""
        return None if tree == "sha256" else self.suite

    def consistency_proof(self, old_size: int, new_size: int, tree: Tree = "chain") -> list[bytes]:
        """RFC 9162 PROOF(old_size, D[new_size]) in ``tree``, from its stored nodes."""
        hasher = self.tree_hasher(tree)
        proof: list[bytes] = self.with_nodes(lambda nodes: consistency_proof(old_size, new_size, nodes, hasher), tree)
        return proof

    def with_nodes(self, work: Any, tree: Tree = "chain") -> Any:
        """Run ``work(node_source)`` on one consistent connection (proof generation), over the
        nodes of ``tree``."""
        table = sha256_nodes if tree == "sha256" and self.keeps_sha256_tree else nodes
        with self.engine.connect() as conn:
            return work(StoredNodes(conn, table))
