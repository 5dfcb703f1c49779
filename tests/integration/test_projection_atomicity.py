"""A block's rows and its checkpoint commit together or not at all, savepoints included.

The pysqlite lesson (DESIGN.md): with the sqlite3 driver's own transaction handling, a
SAVEPOINT opened before the block's first write began a transaction of its own and its
RELEASE committed it, so after a crash the registry held block 43's rows under a checkpoint
at 42 and restarted into ``UNIQUE constraint failed``. These tests write inside
``begin_nested()`` and then fail (an exception, a failing checkpoint, SIGKILL) before the
block's transaction commits, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, func, insert, select

from govchain.bus.blocks import last_height
from govchain.projection import runner as runner_module
from govchain.projection.checkpoint import load_checkpoint, prepare_checkpoints, save_checkpoint
from govchain.projection.runner import ProjectionRunner
from govchain.protocol import events as ev
from govchain.protocol.block import Block, seal_block
from govchain.protocol.envelope import make_event
from govchain.protocol.eventref import EventKey
from govchain.protocol.genesis import make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import leaf_hash
from govchain.protocol.verify import ChainVerifier, VerifiedBlock
from govchain.services.ledger import store as ledger_store
from govchain.services.ledger.store import LedgerStore
from govchain.services.registry import projection as registry
from govchain.services.registry import tables as registry_tables
from govchain.storage.engine import make_engine

from .conftest import Ledger

REPO = Path(__file__).resolve().parents[2]


class Boom(Exception):
    """The failure injected after the savepoint, before the block's commit."""


class SavepointRows:
    """One row per event, written in a savepoint as the registry does; it can fail or die
    (SIGKILL) on block ``fail_at`` / ``kill_at`` after the savepoint is released."""

    name = "savepoint_rows"
    metadata = MetaData()
    rows = Table(
        "atomicity_rows",
        metadata,
        Column("event_id", String(64), primary_key=True),  # a block applied twice cannot hide
        Column("height", Integer, nullable=False),
    )

    def __init__(self, fail_at: int | None = None, kill_at: int | None = None) -> None:
        self.fail_at, self.kill_at = fail_at, kill_at

    def prepare(self, engine: Engine) -> None:
        self.metadata.create_all(engine)

    def apply(self, conn: Connection, block: VerifiedBlock) -> None:
        height = block.block.height
        savepoint = conn.begin_nested()  # the block's first statement, as in the pysqlite crash
        conn.execute(insert(self.rows), [{"event_id": e.id, "height": height} for e in block.envelopes])
        savepoint.commit()
        if height == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if height == self.fail_at:
            raise Boom(height)

    @classmethod
    def heights(cls, engine: Engine) -> tuple[int | None, int]:
        """(highest height with rows, rows in all)."""
        with engine.connect() as conn:
            top, count = conn.execute(select(func.max(cls.rows.c.height), func.count())).one()
        return top, count


def checkpoint_height(engine: Engine, name: str) -> int | None:
    with engine.connect() as conn:
        checkpoint = load_checkpoint(conn, name)
    return None if checkpoint is None else checkpoint.height


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


async def a_chain(ledger: Ledger, documents: int = 3) -> int:
    """Genesis, a department and one block per document; returns the head height."""
    await ledger.register_department("tax")
    for n in range(documents):
        await ledger.submit(ledger.document("tax", n))
    return await last_height(ledger.nc.jetstream())


async def resume_to(ledger: Ledger, engine: Engine, head: int) -> None:
    """A fresh runner from the checkpoint: no block may meet rows it already wrote."""
    await ProjectionRunner(ledger.nc.jetstream(), engine, SavepointRows()).run(until_height=head)
    assert checkpoint_height(engine, SavepointRows.name) == head


async def test_a_failing_block_leaves_neither_its_savepoint_rows_nor_its_checkpoint(
    ledger: Ledger, engine: Engine
) -> None:
    head = await a_chain(ledger)
    runner = ProjectionRunner(ledger.nc.jetstream(), engine, SavepointRows(fail_at=head))
    with pytest.raises(Boom):
        await runner.run(until_height=head)

    assert checkpoint_height(engine, SavepointRows.name) == head - 1
    assert SavepointRows.heights(engine)[0] == head - 1
    await resume_to(ledger, engine, head)
    assert SavepointRows.heights(engine)[0] == head


async def test_a_failing_checkpoint_takes_the_blocks_savepoint_rows_with_it(
    ledger: Ledger, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = await a_chain(ledger)

    def save_or_fail(conn: Connection, name: str, checkpoint: Any, *, state_changed: bool) -> None:
        if checkpoint.height == head:
            raise Boom(head)
        save_checkpoint(conn, name, checkpoint, state_changed=state_changed)

    monkeypatch.setattr(runner_module, "save_checkpoint", save_or_fail)
    with pytest.raises(Boom):
        await ProjectionRunner(ledger.nc.jetstream(), engine, SavepointRows()).run(until_height=head)
    monkeypatch.undo()

    assert checkpoint_height(engine, SavepointRows.name) == head - 1
    assert SavepointRows.heights(engine)[0] == head - 1
    await resume_to(ledger, engine, head)


CHILD = """
import asyncio, sys
from govchain.bus.connect import connect
from govchain.projection.runner import ProjectionRunner
from govchain.storage.engine import make_engine
from tests.integration.test_projection_atomicity import SavepointRows

async def main(nats_url: str, db_url: str, kill_at: int) -> None:
    nc = await connect(nats_url)
    runner = ProjectionRunner(nc.jetstream(), make_engine(db_url), SavepointRows(kill_at=kill_at))
    await runner.run(until_height=kill_at)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_a_process_killed_mid_block_resumes_from_the_block_before(
    ledger: Ledger, engine: Engine, db_url: str
) -> None:
    head = await a_chain(ledger)
    child = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CHILD, ledger.nats_url, db_url, str(head)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    assert checkpoint_height(engine, SavepointRows.name) == head - 1
    assert SavepointRows.heights(engine)[0] == head - 1
    await resume_to(ledger, engine, head)  # the registry's UNIQUE failure, had block `head` leaked


# -- the registry projection's own savepoints, without NATS: blocks sealed here ----------------


class Chain:
    """Blocks sealed and verified in process: genesis, then blocks of documents from root."""

    def __init__(self) -> None:
        self.root, self.orderer = SigningKey.generate(), SigningKey.generate()
        self.genesis = make_genesis_event("atomicity", [self.root], [self.orderer])
        self.verifier = ChainVerifier()
        self.first = self.verifier.verify(make_genesis_block(self.genesis, self.orderer))

    def documents(self, *names: str) -> VerifiedBlock:
        checkpoint = self.verifier.checkpoint
        assert checkpoint is not None
        events = [
            make_event(
                self.root,
                source=ev.ROOT,
                type="document.registered",
                data={"document_id": name, "sha256": f"{n:064x}", "title": name},
            )
            for n, name in enumerate(names)
        ]
        leaves = [leaf_hash(e.to_bytes()) for e in events]
        log = checkpoint.log.copy()
        for leaf in leaves:
            log.append(leaf)
        block: Block = seal_block(
            chain_id="atomicity",
            height=checkpoint.height + 1,
            prev_hash=checkpoint.block_hash,
            events=[e.to_dict() for e in events],
            leaf_hashes=leaves,
            log_after=log,
            time=self.genesis.time,
            orderer_key=self.orderer,
        )
        return self.verifier.verify(block)


def commit_block(
    engine: Engine, projection: registry.RegistryProjection, chain: Chain, block: VerifiedBlock, *, fail: bool = False
) -> None:
    """What the runner's commit does: the block's rows, then its checkpoint, in one transaction."""
    assert chain.verifier.checkpoint is not None
    with engine.begin() as conn:
        projection.apply(conn, block)
        if fail:
            raise Boom(block.block.height)
        save_checkpoint(conn, projection.name, chain.verifier.checkpoint, state_changed=block.state_changed)


def documents_and_voids(engine: Engine) -> tuple[set[str], set[str]]:
    documents, voids = registry_tables.documents, registry_tables.void_events
    with engine.connect() as conn:
        return (
            set(conn.execute(select(documents.c.document_id)).scalars()),
            set(conn.execute(select(voids.c.event_id)).scalars()),
        )


@pytest.fixture
def registry_engine(engine: Engine) -> Engine:
    prepare_checkpoints(engine)
    registry.RegistryProjection().prepare(engine)
    return engine


def test_the_registry_rolls_back_a_void_events_rows_and_keeps_the_rest_of_the_block(
    registry_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-event savepoint is for this: an event found void after it wrote leaves no
    rows, only its void record, while the block's other events stand."""

    def document_then_void(conn: Connection, e: Any, p: ev.DocumentRegistered, at: registry.At) -> None:
        registry._document(conn, e, p, at)
        if p.document_id == "void-after-writing":
            raise registry.Void("found void after writing")

    projection = registry.RegistryProjection()
    projection._handlers[ev.DocumentRegistered] = document_then_void
    chain = Chain()
    commit_block(registry_engine, projection, chain, chain.first)
    block = chain.documents("kept-1", "void-after-writing", "kept-2")
    commit_block(registry_engine, projection, chain, block)

    void_id = block.envelopes[1].ref  # the registry names events source/id
    assert documents_and_voids(registry_engine) == ({"kept-1", "kept-2"}, {void_id})
    assert checkpoint_height(registry_engine, projection.name) == 1


def test_the_registrys_savepoints_roll_back_with_a_block_that_fails(registry_engine: Engine) -> None:
    """The crash that taught the lesson: every event's released savepoint must still belong
    to the block's transaction, so a block that fails leaves nothing and can be applied again."""
    projection, chain = registry.RegistryProjection(), Chain()
    commit_block(registry_engine, projection, chain, chain.first)
    block = chain.documents("first", "second")
    with pytest.raises(Boom):
        commit_block(registry_engine, projection, chain, block, fail=True)

    assert documents_and_voids(registry_engine) == (set(), set())
    assert checkpoint_height(registry_engine, projection.name) == 0
    commit_block(registry_engine, projection, chain, block)  # again, as after a restart
    assert documents_and_voids(registry_engine) == ({"first", "second"}, set())


def test_the_ledgers_driver_level_inserts_roll_back_with_their_block(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LedgerStore.record sends events and Merkle nodes with executemany straight to the
    driver on SQLite: those rows too belong to the block's transaction."""
    store, chain = LedgerStore(engine), Chain()
    store.record(chain.first, chain.verifier.checkpoint)  # type: ignore[arg-type]
    with engine.connect() as conn:
        nodes_before = conn.execute(select(func.count()).select_from(ledger_store.nodes)).scalar()
    block = chain.documents("a", "b", "c")
    assert block.new_nodes, "the block must add Merkle nodes for this test to see them"

    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise Boom(block.block.height)

    monkeypatch.setattr(ledger_store, "save_checkpoint", fail)
    with pytest.raises(Boom):
        store.record(block, chain.verifier.checkpoint)  # type: ignore[arg-type]
    monkeypatch.undo()

    ids = [EventKey(envelope.source, envelope.id) for envelope in block.envelopes]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ledger_store.nodes)).scalar() == nodes_before
    assert (store.head_height(), store.included(ids)) == (0, {})
    assert checkpoint_height(engine, ledger_store.CHECKPOINT_NAME) == 0
    store.record(block, chain.verifier.checkpoint)  # type: ignore[arg-type]
    assert set(store.included(ids)) == set(ids)
