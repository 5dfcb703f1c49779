"""The ledger's index on SQLite and PostgreSQL: what the orderer writes per block, it can
read back (dedup, receipts, proofs), whichever insert path the dialect takes."""

from __future__ import annotations

from govchain.protocol.block import seal_block
from govchain.protocol.envelope import make_event
from govchain.protocol.genesis import make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import inclusion_proof, leaf_hash, verify_inclusion
from govchain.protocol.verify import ChainVerifier
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine


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
        block = seal_block(chain_id="store-test", height=1, prev_hash=verifier.checkpoint.block_hash,
                           events=[e.to_dict() for e in events], leaf_hashes=leaves, log_after=log,
                           time=genesis.time, orderer_key=orderer)
        applied = verifier.verify(block)
        store.record(applied, verifier.checkpoint)

        assert store.included(["st-3", "st-6", "nope"]) == {"st-3": leaves[3], "st-6": leaves[6]}
        location = store.locate("st-4")
        assert location is not None and (location.height, location.position, location.leaf_index) == (1, 4, 5)
        assert store.head_height() == 1 and store.checkpoint() is not None
        path = store.with_nodes(lambda nodes: inclusion_proof(location.leaf_index, log.size, nodes))
        assert verify_inclusion(leaves[4], location.leaf_index, log.size, path, log.root())
    finally:
        store.engine.dispose()
