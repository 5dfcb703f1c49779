"""Hardening, chain side: Merkle verifiers and block verification under random and malformed
input. test_merkle.py checks generated proofs and their one-bit mutants, test_properties.py
one-field mutations of good blocks; here: arbitrary garbage into the verifiers, proof sizes at
any scale, random block orders and splices, structural damage, and validly *signed* blocks
of garbage events (a compromised or buggy orderer), which must still be refused.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest
from govchain.protocol.block import Block
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import BlockVerificationError
from govchain.protocol.keys import SigningKey
from govchain.protocol.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)
from govchain.protocol.verify import ChainVerifier
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from .conftest import ChainBuilder

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- Merkle verifiers take anything and answer only True or False

ANYTHING = st.one_of(
    st.binary(min_size=0, max_size=40),
    st.binary(min_size=32, max_size=32),
    st.none(),
    st.text(max_size=40),
    st.integers(),
    st.floats(),
    st.lists(st.integers(0, 255), max_size=32),
)
SIZES = st.integers(min_value=-(2**70), max_value=2**70)


@PROPS
@given(ANYTHING, SIZES, SIZES, st.lists(ANYTHING, max_size=80), ANYTHING)
def test_verify_inclusion_never_raises(leaf: Any, index: int, size: int, proof: list[Any], root: Any) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) in (True, False)


@PROPS
@given(SIZES, SIZES, ANYTHING, ANYTHING, st.lists(ANYTHING, max_size=80))
def test_verify_consistency_never_raises(old: int, new: int, old_root: Any, new_root: Any, proof: list[Any]) -> None:
    assert verify_consistency(old, new, old_root, new_root, proof) in (True, False)


HASH = st.binary(min_size=32, max_size=32)


@PROPS
@given(HASH, st.integers(0, 2**64), st.integers(1, 2**64), st.lists(HASH, max_size=70), HASH)
def test_random_well_formed_inclusion_claims_do_not_verify(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    assume(root != leaf)  # a one-leaf tree's root is its leaf: the one claim that is true
    assert not verify_inclusion(leaf, index % size, size, proof, root)


class _Synthetic:
    """Any perfect node of a virtual log of any size, on demand."""

    def perfect_node(self, level: int, index: int) -> bytes:
        return hashlib.sha256(f"{level}/{index}".encode()).digest()


def _ceil_log2(n: int) -> int:
    return (n - 1).bit_length()


@PROPS
@given(st.integers(1, 2**62), st.data())
def test_proof_sizes_stay_logarithmic_at_any_scale(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    assert len(inclusion_proof(index, size, _Synthetic())) <= _ceil_log2(size)
    old = data.draw(st.integers(0, size), label="old size")
    assert len(consistency_proof(old, size, _Synthetic())) <= _ceil_log2(size) + 1


N = 200
TREE = MemoryTree(leaf_hash(i.to_bytes(2, "big")) for i in range(N))
LEAVES = [TREE.perfect_node(0, i) for i in range(N)]


@PROPS
@given(st.integers(0, 200), st.integers(0, 200))
def test_subtree_root_is_the_root_of_its_leaves_or_refuses(start: int, end: int) -> None:
    width = end - start
    aligned = width > 0 and start % (1 << (width - 1).bit_length()) == 0
    if start <= end and (width == 0 or aligned):
        assert subtree_root(start, end, TREE) == root_from_leaf_hashes(LEAVES[start:end])
    else:
        with pytest.raises(ValueError):
            subtree_root(start, end, TREE)


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


@PROPS
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
