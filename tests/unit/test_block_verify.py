"""Blocks and the chain verifier: a good chain verifies, every kind of tampering is caught."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from govchain.protocol.block import ZERO_HASH, Block, block_msg_id
from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import BlockVerificationError
from govchain.protocol.genesis import make_genesis_block
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import root_from_leaf_hashes
from govchain.protocol.verify import ChainVerifier, Checkpoint

if TYPE_CHECKING:
    from .conftest import ChainBuilder


def verified(blocks: list[Block], **options: Any) -> ChainVerifier:
    verifier = ChainVerifier(**options)
    for block in blocks:
        verifier.verify(block)
    return verifier


def fails_at(blocks: list[Block], height: int, match: str | None = None, **options: Any) -> BlockVerificationError:
    """Verify ``blocks`` from genesis; assert the last one fails, reported at ``height``."""
    options.setdefault("check_events", True)
    verifier = ChainVerifier(**options)
    accepted = 0
    with pytest.raises(BlockVerificationError, match=match) as info:
        for block in blocks:
            verifier.verify(block)
            accepted += 1
    assert info.value.height == height
    assert accepted == len(blocks) - 1  # everything before the last block was accepted
    assert verifier.height == accepted - 1  # and the failed block did not advance the verifier
    return info.value


def with_events(block: Block, events: list[dict[str, Any]]) -> Block:
    return block.model_copy(update={"events": events})


def with_header(block: Block, **changes: Any) -> Block:
    return block.model_copy(update={"header": block.header.model_copy(update=changes)})


# -- blocks


def test_genesis_block(builder: ChainBuilder) -> None:
    genesis = builder.blocks[0]
    header = genesis.header
    assert (header.height, header.prev_hash, header.event_count, header.log_size) == (0, ZERO_HASH, 1, 1)
    assert header.chain_id == "testchain"
    assert header.time == builder.genesis_event.time
    assert header.orderer == builder.orderer.key_id
    assert genesis.events == [builder.genesis_event.to_dict()]
    leaf = builder.suite.leaf_hash(builder.genesis_event.to_bytes())
    assert header.events_root == header.log_root == leaf.hex()
    assert genesis.hash == builder.suite.hash(canonical_bytes(header.model_dump())).hex()
    assert builder.orderer.public.verify(bytes.fromhex(genesis.signature), bytes.fromhex(genesis.hash))
    assert genesis.has_valid_signature(builder.orderer.public)
    assert not genesis.has_valid_signature(builder.root.public)


def test_sealed_block_commits_to_its_events_and_the_log(chain: ChainBuilder) -> None:
    block = chain.blocks[2]
    leaves = [chain.suite.leaf_hash(canonical_bytes(e)) for e in block.events]
    assert block.leaf_hashes(chain.suite) == leaves
    assert block.header.events_root == root_from_leaf_hashes(leaves, chain.suite).hex()
    all_leaves = [leaf for b in chain.blocks for leaf in b.leaf_hashes(chain.suite)]
    assert block.header.log_size == len(all_leaves) == 6
    assert block.header.log_root == root_from_leaf_hashes(all_leaves, chain.suite).hex()
    assert block.header.prev_hash == chain.blocks[1].hash
    assert block_msg_id(block) == f"testchain.2.{block.hash}"


def test_block_bytes_roundtrip(chain: ChainBuilder) -> None:
    for block in chain.blocks:
        raw = block.to_bytes()
        assert Block.from_bytes(raw) == block
        assert Block.from_bytes(raw).hash == block.hash


@pytest.mark.parametrize(
    "raw",
    [b"", b"garbage", b"[]", b'{"header":{}}', b'{"a":1,"a":1}', pytest.param(b"[" * 100_000, id="deep")],
)
def test_block_from_bytes_rejects_garbage(raw: bytes) -> None:
    with pytest.raises(BlockVerificationError) as info:
        Block.from_bytes(raw)
    assert info.value.height == -1
    with pytest.raises(BlockVerificationError) as info:
        Block.from_bytes(raw, height_hint=7)
    assert info.value.height == 7


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("height", "1"),
        ("height", 1.0),
        ("log_size", True),
        ("event_count", "3"),
        ("version", None),
    ],
)
def test_a_header_only_coercion_could_read_is_refused(chain: ChainBuilder, field: str, value: object) -> None:
    """The hash covers the parsed header: a coerced or defaulted field would verify under bytes
    the orderer never wrote (and that a verifier hashing what it received rejects)."""
    block = json.loads(chain.blocks[1].to_bytes())
    if value is None:
        del block["header"][field]
    else:
        block["header"][field] = value
    with pytest.raises(BlockVerificationError, match="not a well-formed block"):
        Block.from_bytes(json.dumps(block).encode(), height_hint=1)


def test_block_from_bytes_rejects_extra_fields(chain: ChainBuilder) -> None:
    value = json.loads(chain.blocks[1].to_bytes())
    value["header"]["note"] = "x"
    with pytest.raises(BlockVerificationError):
        Block.from_bytes(json.dumps(value).encode())


# -- a good chain


def test_verifier_accepts_a_good_chain(chain: ChainBuilder) -> None:
    verifier = ChainVerifier(check_events=True, genesis_hash=chain.blocks[0].hash)
    results = [verifier.verify(Block.from_bytes(b.to_bytes())) for b in chain.blocks]
    assert verifier.height == 2
    assert verifier.checkpoint is not None and verifier.checkpoint.block_hash == chain.blocks[2].hash
    assert verifier.checkpoint.log.size == 6
    assert [r.first_leaf_index for r in results] == [0, 1, 3]
    assert [r.state_changed for r in results] == [True, True, False]
    assert results[2].envelopes[0].type == "document.registered"
    assert results[2].leaf_hashes == chain.blocks[2].leaf_hashes(chain.suite)
    assert verifier.state is not None
    assert verifier.state.is_department("tax") and verifier.state.is_department("land")


def test_verifier_without_event_checks_accepts_a_good_chain(chain: ChainBuilder) -> None:
    assert verified(chain.blocks).height == 2


def test_empty_block_verifies(chain: ChainBuilder) -> None:
    chain.seal([])
    assert verified(chain.blocks, check_events=True).height == 3


# -- tampering


def test_altered_event_data(chain: ChainBuilder) -> None:
    events = [dict(e) for e in chain.blocks[2].events]
    events[1] = {**events[1], "data": {**events[1]["data"], "title": "forged"}}
    fails_at([*chain.blocks[:2], with_events(chain.blocks[2], events)], 2, "events Merkle root")
    fails_at([*chain.blocks[:2], with_events(chain.blocks[2], events)], 2, check_events=False)


def test_altered_header_time(chain: ChainBuilder) -> None:
    forged = with_header(chain.blocks[1], time="2030-01-01T00:00:00.000000Z")
    fails_at([chain.blocks[0], forged], 1, "header hash")


def test_altered_header_with_recomputed_hash_fails_the_signature(chain: ChainBuilder) -> None:
    forged = with_header(chain.blocks[2], time="2030-01-01T00:00:00.000000Z")
    forged = forged.model_copy(update={"hash": forged.header.block_hash(chain.suite)})
    fails_at([*chain.blocks[:2], forged], 2, "orderer signature")


def test_wrong_prev_hash(chain: ChainBuilder) -> None:
    block = chain.seal([chain.document("tax")], prev_hash=chain.blocks[1].hash, commit=False)
    fails_at([*chain.blocks, block], 3, "previous-hash")


def test_skipped_height(chain: ChainBuilder) -> None:
    block = chain.seal([chain.document("tax")], height=4, commit=False)
    # Reported where the chain breaks (the next height), not at the height the block claims.
    fails_at([*chain.blocks, block], 3, "claims height 4")
    fails_at([chain.blocks[0], chain.blocks[2]], 1, "claims height 2")


def test_replayed_block(chain: ChainBuilder) -> None:
    fails_at([*chain.blocks, chain.blocks[2]], 3, "claims height 2")


def test_dropped_event(chain: ChainBuilder) -> None:
    block = chain.blocks[2]
    fails_at([*chain.blocks[:2], with_events(block, block.events[:-1])], 2, "counts 3 events")


def test_reordered_events(chain: ChainBuilder) -> None:
    block = chain.blocks[2]
    swapped = [block.events[1], block.events[0], block.events[2]]
    fails_at([*chain.blocks[:2], with_events(block, swapped)], 2, "events Merkle root")


def test_block_signed_by_a_non_orderer_key(chain: ChainBuilder) -> None:
    for key in (chain.new_key(), chain.root, chain.dept_keys["tax"]):
        block = chain.seal([chain.document("tax")], key=key, commit=False)
        fails_at([*chain.blocks, block], 3, "no orderer key")


def test_block_claiming_the_orderer_but_signed_by_another_key(chain: ChainBuilder) -> None:
    block = chain.seal([chain.document("tax")], commit=False)
    intruder = chain.new_key()
    forged = block.model_copy(update={"signature": intruder.sign(bytes.fromhex(block.hash)).hex()})
    assert forged.header.orderer == chain.orderer.key_id
    fails_at([*chain.blocks, forged], 3, "orderer signature")


def test_genesis_pin_mismatch(chain: ChainBuilder, chain_factory: type[ChainBuilder]) -> None:
    other = chain_factory(suite=chain.suite)
    fails_at(chain.blocks[:1], 0, "pinned", genesis_hash=other.blocks[0].hash)
    fails_at(other.blocks[:1], 0, "pinned", genesis_hash=chain.blocks[0].hash)
    assert verified(chain.blocks, genesis_hash=chain.blocks[0].hash).height == 2


def test_block_of_another_chain(chain: ChainBuilder, chain_factory: type[ChainBuilder]) -> None:
    other = chain_factory("otherchain", suite=chain.suite)
    other.seal([other.register("tax")])
    fails_at([chain.blocks[0], other.blocks[1]], 1, "block of chain otherchain")
    same_id = chain_factory(suite=chain.suite)  # same chain id, different genesis: the link breaks
    same_id.seal([same_id.register("tax")])
    fails_at([chain.blocks[0], same_id.blocks[1]], 1, "previous-hash")


def test_event_id_included_twice(chain: ChainBuilder) -> None:
    repeat = chain.blocks[2].events[0]
    again = chain.seal([repeat], commit=False)
    fails_at([*chain.blocks, again], 3, "included twice")
    within = chain.seal([chain.document("tax").to_dict()] * 2, commit=False)
    fails_at([*chain.blocks, within], 3, "included twice")
    genesis_again = chain.seal([chain.blocks[0].events[0]], commit=False)
    fails_at([*chain.blocks, genesis_again], 3)


def test_invalid_event_inside_a_sealed_block(chain: ChainBuilder) -> None:
    event = chain.document("tax").to_dict()
    event["data"] = {**event["data"], "title": "changed after signing"}
    block = chain.seal([chain.document("land"), event], commit=False)
    error = fails_at([*chain.blocks, block], 3, "bad_signature")
    assert "event 1" in error.detail
    # Without event checks a projection trusts the orderer for stateless events ...
    assert verified([*chain.blocks, block]).height == 3


def test_invalid_state_changing_event_is_caught_even_without_event_checks(chain: ChainBuilder) -> None:
    by_department = make_event(
        chain.dept_keys["tax"],
        source="tax",
        type="department.registered",
        data={"department_id": "health", "name": "Health", "public_key": chain.new_key().public.hex},
    )
    block = chain.seal([by_department], commit=False)
    fails_at([*chain.blocks, block], 3, "unauthorized", check_events=False)


def test_malformed_envelope_inside_a_sealed_block(chain: ChainBuilder) -> None:
    block = chain.seal([{"not": "an envelope"}], commit=False)
    fails_at([*chain.blocks, block], 3, "well-formed envelope")


def test_genesis_must_be_well_formed(builder: ChainBuilder) -> None:
    wrong_prev = builder.seal([builder.genesis_event], height=0, prev_hash="11" * 32, commit=False)
    fails_at([wrong_prev], 0, "zero hash")
    two_events = builder.seal(
        [builder.genesis_event, builder.register("tax")], height=0, prev_hash=ZERO_HASH, commit=False
    )
    fails_at([two_events], 0, "exactly the genesis event")
    not_genesis = builder.seal([builder.register("tax")], height=0, prev_hash=ZERO_HASH, commit=False)
    fails_at([not_genesis], 0, "chain.genesis")
    by_stranger = make_genesis_block(builder.genesis_event, builder.new_key())
    fails_at([by_stranger], 0, "no orderer key")
    by_root = make_genesis_block(builder.genesis_event, builder.root)
    fails_at([by_root], 0, "no orderer key")


# -- orderer keys over time


def test_orderer_key_rotation_and_revocation(chain: ChainBuilder) -> None:
    old, new = chain.orderer, chain.new_key()
    added = make_event(
        chain.root, source="root", type="key.added", data={"owner": "ledger", "public_key": new.public.hex}
    )
    chain.seal([added], key=old)
    chain.seal([chain.document("tax")], key=new)
    # a block may carry the revocation of the very key that signs it: it was valid before it
    revoked = make_event(
        chain.root, source="root", type="key.revoked", data={"key_id": old.key_id, "reason": "rotated"}
    )
    chain.seal([revoked], key=old)
    chain.seal([chain.document("land")], key=new)
    assert verified(chain.blocks, check_events=True).height == 6
    late = chain.seal([chain.document("tax")], key=old, commit=False)
    fails_at([*chain.blocks, late], 7, "revoked or rotated-out orderer key")
    fails_at([*chain.blocks, late], 7, "revoked or rotated-out orderer key", check_events=False)


def test_a_key_added_in_a_block_cannot_sign_that_block(chain: ChainBuilder) -> None:
    new = chain.new_key()
    added = make_event(
        chain.root, source="root", type="key.added", data={"owner": "ledger", "public_key": new.public.hex}
    )
    block = chain.seal([added], key=new, commit=False)
    fails_at([*chain.blocks, block], 3, "no orderer key")


# -- a failed block leaves the verifier as it was


def test_rejected_block_does_not_change_the_verifier(chain: ChainBuilder) -> None:
    verifier = verified(chain.blocks, check_events=True)
    before = json.dumps(verifier.checkpoint.to_json(), sort_keys=True)
    health = chain.new_key()
    registration = chain.register("health", health)
    doc = chain.document("tax")
    forged = chain.seal([registration, doc], key=chain.new_key(), commit=False)
    with pytest.raises(BlockVerificationError):
        verifier.verify(forged)
    bad_second = doc.to_dict()
    bad_second["data"] = {**bad_second["data"], "title": "tampered"}
    half_bad = chain.seal([registration, doc, bad_second], commit=False)
    with pytest.raises(BlockVerificationError):
        verifier.verify(half_bad)
    assert json.dumps(verifier.checkpoint.to_json(), sort_keys=True) == before
    assert verifier.state is not None and "health" not in verifier.state.principals
    # the genuine block with the same events is still accepted
    genuine = chain.seal([registration, doc])
    result = verifier.verify(genuine)
    assert result.state_changed
    assert verifier.height == 3 and verifier.state.is_department("health")


# -- checkpoints


def test_checkpoint_resumes_verification(chain: ChainBuilder) -> None:
    verifier = verified(chain.blocks, check_events=True)
    stored = json.loads(json.dumps(verifier.checkpoint.to_json()))
    health = chain.register("health")
    next_block = chain.seal([health, chain.document("tax")])
    tampered = with_events(next_block, next_block.events[:1])

    resumed = ChainVerifier(check_events=True, checkpoint=Checkpoint.from_json(stored))
    assert resumed.height == 2
    with pytest.raises(BlockVerificationError) as info:
        resumed.verify(tampered)
    assert info.value.height == 3
    result = resumed.verify(next_block)
    assert result.first_leaf_index == 6
    assert resumed.height == 3 and resumed.state.is_department("health")
    # and it keeps going: the new department's events validate
    resumed.verify(chain.seal([chain.document("health")]))
    assert resumed.height == 4


def test_checkpoint_from_another_height_or_chain_does_not_fit(chain: ChainBuilder) -> None:
    at_one = verified(chain.blocks[:2]).checkpoint
    next_block = chain.seal([chain.document("tax")])
    stale = ChainVerifier(checkpoint=Checkpoint.from_json(json.loads(json.dumps(at_one.to_json()))))
    with pytest.raises(BlockVerificationError, match="block 2 .*claims height 3"):
        stale.verify(next_block)
    wrong_hash = json.loads(json.dumps(verified(chain.blocks[:3]).checkpoint.to_json()))
    wrong_hash["block_hash"] = "22" * 32
    with pytest.raises(BlockVerificationError, match="previous-hash"):
        ChainVerifier(checkpoint=Checkpoint.from_json(wrong_hash)).verify(next_block)


PROPS_BLOCKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- block verification


@pytest.fixture(scope="module")
def chains(chain_factory: type[ChainBuilder]) -> tuple[ChainBuilder, ChainBuilder]:
    """Two chains with the same shape (genesis, departments, documents, more documents)."""
    built = []
    for _ in range(2):
        builder = chain_factory()
        builder.seal([builder.register("tax"), builder.register("land")])
        builder.seal([builder.document("tax"), builder.document("land")])
        builder.seal([builder.document("land", title="三")])
        built.append(builder)
    return built[0], built[1]


@PROPS_BLOCKS
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3)), min_size=1, max_size=7), st.booleans())
def test_only_the_exact_chain_in_order_verifies(
    chains: tuple[ChainBuilder, ChainBuilder], picks: list[tuple[int, int]], check_events: bool
) -> None:
    """Blocks of two chains, in any order, with repeats: the verifier accepts the longest prefix
    that is one chain's blocks 0, 1, 2, ... and refuses the first block after it."""
    blocks = [chains[c].blocks[h] for c, h in picks]
    first_chain = picks[0][0]
    good = 0
    while good < len(picks) and picks[good] == (first_chain, good):
        good += 1
    verifier = ChainVerifier(check_events=check_events)
    for block in blocks[:good]:
        verifier.verify(block)
    if good < len(blocks):
        event("refused")
        with pytest.raises(BlockVerificationError):
            verifier.verify(blocks[good])
    assert verifier.height == good - 1


def _damage(value: Any, data: st.DataObject) -> Any:
    """Delete a member, replace a subtree with random JSON, or change a value's type."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(value, ())
    path = data.draw(st.sampled_from(paths[1:]), label="path")
    parent = value
    for part in path[:-1]:
        parent = parent[part]
    how = data.draw(st.sampled_from(["delete", "replace", "wrap"]), label="damage")
    if how == "delete":
        del parent[path[-1]]
    elif how == "wrap":
        parent[path[-1]] = [parent[path[-1]]]
    else:
        parent[path[-1]] = data.draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False),
                lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                max_leaves=8,
            ),
            label="new value",
        )
    return value


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 3), st.booleans(), st.data())
def test_structurally_damaged_blocks_fail_only_with_block_verification_error(
    chains: tuple[ChainBuilder, ChainBuilder], height: int, check_events: bool, data: st.DataObject
) -> None:
    builder = chains[0]
    damaged = _damage(copy.deepcopy(builder.blocks[height].model_dump()), data)
    verifier = ChainVerifier(check_events=check_events)
    for block in builder.blocks[:height]:
        verifier.verify(block)
    try:
        raw = json.dumps(damaged, allow_nan=True).encode()
        block = Block.from_bytes(raw, height_hint=height)
        verifier.verify(block)
    except BlockVerificationError as exc:
        assert exc.height == height
        assert verifier.height == height - 1
        return
    # The only harmless damage: none (e.g. a value replaced by an equal one).
    assert block == builder.blocks[height]


STRANGER = SigningKey.generate()


@st.composite
def _garbage_events(draw: st.DrawFn, builder: ChainBuilder) -> dict[str, Any]:
    """A dict a faulty orderer might put in a block: canonicalizable, but not a valid event."""
    good = builder.document("tax").to_dict()
    kind = draw(st.sampled_from(["random object", "field replaced", "field dropped", "stranger key", "bad signature"]))
    event(kind)
    if kind == "random object":
        scalars = st.none() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
        return draw(st.dictionaries(st.text(max_size=8), scalars, max_size=6))
    if kind == "field replaced":
        name = draw(st.sampled_from(sorted(good)))
        original = good[name]
        values: st.SearchStrategy[Any] = st.none() | st.integers(-5, 5) | st.text(max_size=70) | st.just({})
        good[name] = draw(values.filter(lambda v: v != original))
        return good
    if kind == "field dropped":
        del good[draw(st.sampled_from(sorted(good)))]
        return good
    if kind == "stranger key":
        return make_event(STRANGER, source="tax", type="document.registered", data=good["data"]).to_dict()
    signature = good["signature"]
    good["signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]
    return good


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_validly_signed_block_of_garbage_events_is_refused_by_an_auditor(
    chain_factory: type[ChainBuilder], data: st.DataObject
) -> None:
    builder = chain_factory()
    builder.seal([builder.register("tax")])
    garbage = data.draw(_garbage_events(builder), label="garbage event")
    position = data.draw(st.integers(0, 2), label="position")
    events: list[Any] = [builder.document("tax") for _ in range(2)]
    events.insert(position, garbage)
    block = builder.seal(events, commit=False)  # signed by the real orderer key

    auditor = ChainVerifier(check_events=True)
    for good in builder.blocks:
        auditor.verify(good)
    with pytest.raises(BlockVerificationError):
        auditor.verify(block)
    assert auditor.height == len(builder.blocks) - 1

    # A projection that trusts the orderer's signature skips re-validating stateless events,
    # but still refuses anything that is not a well-formed envelope in its signed normal form.
    projection = ChainVerifier(check_events=False)
    for good in builder.blocks:
        projection.verify(good)
    try:
        projection.verify(block)
    except BlockVerificationError:
        return
    event("accepted by a trusting projection")
    assert Envelope.model_validate(garbage).to_dict() == garbage  # well-formed, normal form
