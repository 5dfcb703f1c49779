"""A gm chain's SHA-256 tree: the RFC 6962 tree over the same leaves as its SM3 tree, whose root
its headers carry (``log_root_sha256``), its ledger store keeps and its C2SP checkpoints for stock
witnesses carry (docs/crypto-profiles.md). Roots and proofs are checked against RFC 6962 computed
here with hashlib and against ``tests/transparency/tlog_client.py``, never with our merkle module.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import func, select

from govchain.bus import subjects
from govchain.crypto import GM, INTL
from govchain.projection.checkpoint import load_checkpoint, save_checkpoint
from govchain.protocol import events as ev
from govchain.protocol.block import Block
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import make_event
from govchain.protocol.errors import BlockVerificationError, EventRejected
from govchain.protocol.keys import SigningKey
from govchain.protocol.validation import validate_event
from govchain.protocol.verify import ChainVerifier, Checkpoint
from govchain.services.ledger.checkpoints import CHAIN_TREE, SHA256_TREE, CheckpointPublisher
from govchain.services.ledger.store import LedgerStore, sha256_nodes
from govchain.storage.engine import make_engine
from govchain.transparency.checkpoint import sha256_tree_origin
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.policy import verify_cosigned
from govchain.transparency.tiles import Tile, tile_data
from govchain.transparency.vkeys import Ed25519Signer
from govchain.transparency.witness import TrustedLog, Witness
from tests.transparency import independent_note, tlog_client
from tests.transparency.conftest import Clock, MemoryState
from tests.unit.conftest import CHAIN_ID, ChainBuilder

gm_only = pytest.mark.skipif(not GM.available, reason="the gm profile needs gmssl-pyx (x86-64 wheels only)")
ORIGIN = ev.default_log_origin(CHAIN_ID)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash of the leaf bytes, SHA-256, by its recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def rfc6962_proof(m: int, leaves: list[bytes], whole: bool = True) -> list[bytes]:
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*rfc6962_proof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*rfc6962_proof(m - k, leaves[k:], False), mth(leaves[:k])]


def grow(builder: ChainBuilder, blocks: int = 3) -> ChainBuilder:
    builder.seal([builder.register("tax"), builder.register("land")])
    for n in range(blocks):
        builder.seal([builder.document("tax") for _ in range(n + 2)])
    return builder


def leaf_bytes(blocks: list[Block]) -> list[bytes]:
    return [canonical_bytes(event) for block in blocks for event in block.events]


def resigned(block: Block, builder: ChainBuilder, **changes: Any) -> Block:
    """The block with its header changed, hashed and signed again by the orderer: a lying orderer."""
    header = block.header.model_copy(update=changes)
    block_hash = header.block_hash(builder.suite)
    signature = builder.orderer.sign(bytes.fromhex(block_hash)).hex()
    return Block(header=header, hash=block_hash, signature=signature, events=block.events)


def verified_store(builder: ChainBuilder, database: Path) -> LedgerStore:
    store = LedgerStore(make_engine(f"sqlite:///{database}"), builder.suite)
    record(builder, ChainVerifier(), store)
    return store


def record(builder: ChainBuilder, verifier: ChainVerifier, store: LedgerStore) -> None:
    """Verify and index the builder's blocks the verifier has not seen yet, as the ledger does."""
    for block in builder.blocks[verifier.height + 1 :]:
        applied = verifier.verify(block)
        assert verifier.checkpoint is not None
        store.record(applied, verifier.checkpoint)


@gm_only
def test_gm_headers_carry_the_rfc6962_root_of_the_same_leaves() -> None:
    builder = grow(ChainBuilder(suite=GM))
    verifier = ChainVerifier(check_events=True)
    for height, block in enumerate(builder.blocks):
        applied = verifier.verify(block)
        leaves = leaf_bytes(builder.blocks[: height + 1])
        assert block.header.log_root_sha256 == mth(leaves).hex() != block.header.log_root
        assert block.header.log_size == len(leaves)
        assert applied.sha256_nodes and {n.hash for n in applied.sha256_nodes if n.level == 0} == {
            hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaf_bytes([block])
        }
    assert verifier.checkpoint is not None and verifier.checkpoint.sha256_log is not None
    assert verifier.checkpoint.sha256_log.root() == mth(leaf_bytes(builder.blocks))


def test_intl_headers_and_checkpoints_are_unchanged() -> None:
    builder = grow(ChainBuilder(suite=INTL), blocks=1)
    verifier = ChainVerifier()
    for block in builder.blocks:
        assert "log_root_sha256" not in block.header.model_dump()
        assert b"log_root_sha256" not in block.to_bytes()
        assert verifier.verify(block).sha256_nodes == []
    assert verifier.checkpoint is not None and verifier.checkpoint.sha256_log is None
    assert "sha256_log" not in verifier.checkpoint.to_json()
    # The intl log is itself the RFC 6962 tree.
    assert builder.blocks[-1].header.log_root == mth(leaf_bytes(builder.blocks)).hex()


@gm_only
def test_a_wrong_sha256_root_fails_verification_loudly() -> None:
    builder = grow(ChainBuilder(suite=GM), blocks=1)
    good = ChainVerifier()
    for block in builder.blocks[:-1]:
        good.verify(block)
    last = builder.blocks[-1]

    def refused(block: Block) -> str:
        verifier = ChainVerifier(checkpoint=Checkpoint.from_json(json.loads(json.dumps(good.checkpoint.to_json()))))  # type: ignore[union-attr]
        with pytest.raises(BlockVerificationError) as caught:
            verifier.verify(block)
        assert caught.value.height == last.height
        return str(caught.value)

    forged = resigned(last, builder, log_root_sha256="ab" * 32)  # signed, but not the leaves' root
    assert "SHA-256 log root does not match" in refused(forged)
    altered = Block(header=forged.header, hash=last.hash, signature=last.signature, events=last.events)
    assert "header hash does not match" in refused(altered)  # altered after signing
    assert "SHA-256 log root does not match" in refused(resigned(last, builder, log_root_sha256=None))
    wire = last.to_bytes().replace(b'"log_root_sha256":"', b'"log_root_sha256":null,"x":"')
    with pytest.raises(BlockVerificationError, match="never null"):
        Block.from_bytes(wire.replace(b',"x":"' + last.header.log_root_sha256.encode() + b'"', b""))  # type: ignore[union-attr]

    intl = grow(ChainBuilder(suite=INTL), blocks=1)
    intl_verifier = ChainVerifier()
    for block in intl.blocks[:-1]:
        intl_verifier.verify(block)
    with pytest.raises(BlockVerificationError, match="carries a SHA-256 log root"):
        intl_verifier.verify(resigned(intl.blocks[-1], intl, log_root_sha256=intl.blocks[-1].header.log_root))


@gm_only
def test_the_sha256_log_survives_a_checkpoint_round_trip(tmp_path: Path) -> None:
    builder = grow(ChainBuilder(suite=GM), blocks=2)
    verifier = ChainVerifier()
    for block in builder.blocks[:-1]:
        verifier.verify(block)
    store = LedgerStore(make_engine(f"sqlite:///{tmp_path / 'ledger.db'}"), GM)  # makes the checkpoint table
    assert verifier.checkpoint is not None
    with store.engine.begin() as conn:
        save_checkpoint(conn, "test", verifier.checkpoint, state_changed=True)
    with store.engine.connect() as conn:
        loaded = load_checkpoint(conn, "test")
    from_json = Checkpoint.from_json(json.loads(json.dumps(verifier.checkpoint.to_json())))
    for resumed in (loaded, from_json):
        assert resumed is not None and resumed.sha256_log is not None
        assert resumed.sha256_log.to_json() == verifier.checkpoint.sha256_log.to_json()  # type: ignore[union-attr]
        ChainVerifier(checkpoint=resumed).verify(builder.blocks[-1])  # and it goes on verifying


@gm_only
def test_the_store_keeps_the_sha256_nodes_for_proofs_and_tiles(tmp_path: Path) -> None:
    builder = grow(ChainBuilder(suite=GM), blocks=4)
    store = verified_store(builder, tmp_path / "gm.db")
    leaves = leaf_bytes(builder.blocks)
    sizes = [block.header.log_size for block in builder.blocks]
    for old in sizes:
        for new in sizes:
            if old > new:
                continue
            proof = store.consistency_proof(old, new, "sha256")
            assert proof == (rfc6962_proof(old, leaves[:new]) if old else [])
            if old:
                assert tlog_client.consistent(old, new, mth(leaves[:old]), mth(leaves[:new]), proof)
    assert store.consistency_proof(1, len(leaves)) != store.consistency_proof(1, len(leaves), "sha256")  # SM3
    tile = store.with_nodes(lambda nodes: tile_data(Tile(0, 0, len(leaves)), nodes), "sha256")
    assert tile == b"".join(tlog_client.leaf(leaf) for leaf in leaves)

    intl = verified_store(grow(ChainBuilder(suite=INTL), blocks=1), tmp_path / "intl.db")
    with intl.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sha256_nodes)).scalar_one() == 0


def test_only_a_gm_policy_names_sha256_witnesses() -> None:
    witness = CosignatureSigner("court.example/w", SigningKey.generate(), Clock()).verifier.vkey
    data = {
        "witnesses": [],
        "quorum": 0,
        "sha256": {"witnesses": [{"name": "court.example/w", "vkey": witness}], "quorum": 1},
    }
    intl = ChainBuilder(suite=INTL)
    event = make_event(intl.root, source=ev.ROOT, type=ev.WITNESS_POLICY_TYPE, data=data)
    with pytest.raises(EventRejected, match="sha256") as caught:
        validate_event(intl.genesis_state(), event, block_time=event.time)
    assert caught.value.reason.value == "invalid_payload"
    plain = ev.WitnessPolicySet.model_validate({"witnesses": [], "quorum": 0})
    assert "sha256" not in plain.model_dump(mode="json")  # an intl policy reads and dumps as before
    with pytest.raises(ValueError, match="quorum of 2"):
        ev.WitnessPolicySet.model_validate({**data, "sha256": {**data["sha256"], "quorum": 2}})
    if GM.available:
        gm = ChainBuilder(suite=GM)
        event = make_event(gm.root, source=ev.ROOT, type=ev.WITNESS_POLICY_TYPE, data=data)
        payload = validate_event(gm.genesis_state(), event, block_time=event.time)
        assert isinstance(payload, ev.WitnessPolicySet) and payload.sha256 is not None


class Stream:
    """Stream CHECKPOINTS as the publisher uses it, by subject."""

    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}

    async def publish(self, subject: str, data: bytes, *, stream: str, headers: dict[str, str]) -> None:
        assert stream == subjects.CHECKPOINTS_STREAM
        self.records.setdefault(subject, []).append(json.loads(data))

    async def get_last_msg(self, stream: str, subject: str) -> Any:
        if not self.records.get(subject):
            raise NotFoundError
        return SimpleNamespace(data=json.dumps(self.records[subject][-1]).encode())


@gm_only
async def test_a_sha256_witness_cosigns_a_gm_chains_sha256_checkpoints(tmp_path: Path) -> None:
    """A witness that knows nothing of SM3 (SHA-256 trees, as every C2SP witness) cosigns the gm
    chain's SHA-256 checkpoints, checking the consistency proofs the ledger sends it."""
    builder = ChainBuilder(suite=GM)
    checkpoint_key = SigningKey.generate(INTL)  # a gm chain's Ed25519 checkpoint key
    sha256_origin = sha256_tree_origin(ORIGIN)
    log_vkey = Ed25519Signer(sha256_origin, checkpoint_key).verifier.vkey
    signer = CosignatureSigner("court.example/w", SigningKey.generate(INTL), Clock())
    witness = Witness(signer, [TrustedLog.from_vkeys(sha256_origin, [log_vkey])], MemoryState())  # tree: SHA-256
    requests: list[bytes] = []

    def post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        requests.append(body)
        answer = witness.add_checkpoint(body)
        return answer.status, answer.body

    policy = {
        "witnesses": [],
        "quorum": 0,
        "sha256": {
            "witnesses": [{"name": signer.name, "vkey": signer.verifier.vkey, "url": "http://court"}],
            "quorum": 1,
        },
    }
    builder.seal([make_event(builder.root, source=ev.ROOT, type=ev.WITNESS_POLICY_TYPE, data=policy)])
    grow(builder, blocks=1)
    stream = Stream()
    store = LedgerStore(make_engine(f"sqlite:///{tmp_path / 'ledger.db'}"), GM)
    verifier = ChainVerifier()
    record(builder, verifier, store)
    publishers = [
        CheckpointPublisher(stream, store, checkpoint_key, post=post, tree=tree)  # type: ignore[arg-type]
        for tree in (CHAIN_TREE, SHA256_TREE)
    ]
    for publisher in publishers:
        await publisher.step()
    [chain_record] = stream.records[subjects.CHECKPOINTS_SUBJECT]
    [sha256_record] = stream.records[subjects.SHA256_CHECKPOINTS_SUBJECT]
    leaves = leaf_bytes(builder.blocks)
    assert (chain_record["origin"], chain_record["root"]) == (ORIGIN, builder.blocks[-1].header.log_root)  # SM3
    assert chain_record["cosigners"] == []  # the SM3 tree's policy names nobody here
    assert (sha256_record["origin"], sha256_record["size"], sha256_record["root"]) == (
        sha256_origin,
        len(leaves),
        mth(leaves).hex(),
    )
    assert sha256_record["cosigners"] == [signer.name] and sha256_record["policy"]["sha256"]["quorum"] == 1
    checked = verify_cosigned(sha256_record["note"].encode(), log_vkey, [signer.verifier.vkey], 1)
    assert checked.checkpoint.root == mth(leaves)
    note = sha256_record["note"].encode()
    assert independent_note.read_checkpoint(independent_note.verify_log_signature(note, log_vkey))[:3] == (
        sha256_origin,
        len(leaves),
        mth(leaves),
    )
    independent_note.verify_cosignature(note, signer.verifier.vkey)

    # The chain grows: the witness is sent a SHA-256 consistency proof from the size it cosigned.
    old = len(leaves)
    builder.seal([builder.document("tax") for _ in range(5)])
    record(builder, verifier, store)
    await publishers[1].step()
    leaves = leaf_bytes(builder.blocks)
    assert stream.records[subjects.SHA256_CHECKPOINTS_SUBJECT][-1]["size"] == len(leaves)
    head, *proof_lines = requests[-1].split(b"\n\n", 1)[0].split(b"\n")
    assert head == f"old {old}".encode()
    proof = [base64.b64decode(line) for line in proof_lines]
    assert proof == rfc6962_proof(old, leaves)
    assert tlog_client.consistent(old, len(leaves), mth(leaves[:old]), mth(leaves), proof)
    assert witness.state.latest(sha256_origin).head.root == mth(leaves)  # type: ignore[union-attr,attr-defined]
