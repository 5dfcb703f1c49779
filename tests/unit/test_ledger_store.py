"""The ledger's index on SQLite and PostgreSQL: what the orderer writes per block, it can
read back (dedup, receipts, proofs), whichever insert path the dialect takes."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from govchain.protocol.block import seal_block
from govchain.protocol.envelope import make_event
from govchain.protocol.eventref import EventKey
from govchain.protocol.genesis import make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import inclusion_proof, leaf_hash, verify_inclusion
from govchain.protocol.verify import ChainVerifier
from govchain.services.ledger.store import MIGRATIONS, LedgerStore, events, metadata
from govchain.storage.engine import make_engine
from govchain.storage.migrations import alembic_config, upgrade_to_head


def test_recorded_blocks_answer_dedup_receipts_and_proofs(db_url: str) -> None:
    root, orderer = SigningKey.generate(), SigningKey.generate()
    genesis = make_genesis_event("store-test", [root], [orderer])
    verifier = ChainVerifier()
    store = LedgerStore(make_engine(db_url))
    try:
        applied = verifier.verify(make_genesis_block(genesis, orderer))
        assert verifier.checkpoint is not None
        store.record(applied, verifier.checkpoint)

        events = [make_event(root, source="root", type="clock.tick", data={}, event_id=f"st-{n}") for n in range(7)]
        leaves = [leaf_hash(e.to_bytes()) for e in events]
        log = verifier.checkpoint.log.copy()
        for leaf in leaves:
            log.append(leaf)
        block = seal_block(
            chain_id="store-test",
            height=1,
            prev_hash=verifier.checkpoint.block_hash,
            events=[e.to_dict() for e in events],
            leaf_hashes=leaves,
            log_after=log,
            time=genesis.time,
            orderer_key=orderer,
        )
        applied = verifier.verify(block)
        store.record(applied, verifier.checkpoint)

        wanted = [EventKey("root", "st-3"), EventKey("root", "st-6"), EventKey("tax", "st-3"), EventKey("root", "no")]
        assert store.included(wanted) == {EventKey("root", "st-3"): leaves[3], EventKey("root", "st-6"): leaves[6]}
        [location] = store.locate("st-4", "root")
        assert (location.source, location.height, location.position, location.leaf_index) == ("root", 1, 4, 5)
        assert store.locate("st-4", "tax") == [] and store.locate("st-4") == [location]
        assert store.head_height() == 1 and store.checkpoint() is not None
        path = store.with_nodes(lambda nodes: inclusion_proof(location.leaf_index, log.size, nodes))
        assert verify_inclusion(leaves[4], location.leaf_index, log.size, path, log.root())
    finally:
        store.engine.dispose()


def test_an_index_from_0001_keeps_its_rows_and_then_takes_equal_ids_of_two_sources(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        config = alembic_config(MIGRATIONS)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            conn.execute(
                text(
                    "INSERT INTO ledger_events (event_id, height, position, leaf_index, leaf_hash, type, source) "
                    "VALUES ('d-1', 1, 0, 1, :leaf, 'document.registered', 'tax')"
                ),
                {"leaf": b"\1" * 32},
            )
        upgrade_to_head(engine, MIGRATIONS)
        with engine.begin() as conn:
            conn.execute(
                insert(events).values(
                    source="land",
                    event_id="d-1",
                    height=2,
                    position=0,
                    leaf_index=2,
                    leaf_hash=b"\2" * 32,
                    type="document.registered",
                )
            )
            rows = conn.execute(
                select(events.c.source, events.c.event_id, events.c.leaf_index).order_by(events.c.leaf_index)
            ).all()
            assert [tuple(r) for r in rows] == [("tax", "d-1", 1), ("land", "d-1", 2)]
            with pytest.raises(IntegrityError), conn.begin_nested():
                conn.execute(
                    insert(events).values(
                        source="tax",
                        event_id="d-1",
                        height=3,
                        position=0,
                        leaf_index=3,
                        leaf_hash=b"\3" * 32,
                        type="document.registered",
                    )
                )
            context = MigrationContext.configure(
                conn, opts={"include_name": lambda name, type_, _: type_ != "table" or name in metadata.tables}
            )
            assert list(compare_metadata(context, metadata)) == []  # the models and the migrations agree
    finally:
        engine.dispose()
