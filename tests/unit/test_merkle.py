"""RFC 9162 Merkle trees, checked against published vectors first and our own code second.

Published vectors, copied into tests/unit/vectors/ (each file names its source):
- merkle_transparency_dev.json: github.com/transparency-dev/merkle, testonly/constants.go
  (8-leaf tree: leaf inputs, every node hash, roots for sizes 0..8, compact ranges) and
  proof/verify_test.go (inclusion and consistency proofs). The same tree, roots and proofs
  are in github.com/google/certificate-transparency cpp/merkletree/merkle_tree_test.cc.
- merkle_ct_log_inclusion.json: github.com/google/certificate-transparency,
  python/ct/crypto/merkle_test.py (an inclusion proof from a production CT log, size 3,630,887).
- merkle_subtree_hashes.json: github.com/transparency-dev/merkle, testonly/vectors_test.go, the
  "Subtree Test Vectors" of draft-ietf-plants-merkle-tree-certs (every aligned subtree root of a
  130-leaf tree, folded into one SHA-256).
The corruption probes below port corruptInclusionProof / corruptConsistencyProof from
transparency-dev/merkle proof/verify_test.go.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from govchain.protocol.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    Node,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    root_from_leaf_hashes,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


TD = _load("merkle_transparency_dev.json")
CT_LOG = _load("merkle_ct_log_inclusion.json")
SUBTREES = _load("merkle_subtree_hashes.json")

LEAVES = [leaf_hash(bytes.fromhex(x)) for x in TD["leaf_inputs"]]
ROOTS = [bytes.fromhex(x) for x in TD["root_hashes"]]
NODES = [[bytes.fromhex(x) for x in level] for level in TD["node_hashes"]]
TREE8 = MemoryTree(LEAVES)

# From transparency-dev/merkle proof/verify_test.go: sha256SomeHash.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _flip(proof: list[bytes], i: int, mask: int, at: int = 0) -> list[bytes]:
    """A copy of ``proof`` with byte ``at`` of element ``i`` XORed with ``mask``."""
    changed = list(proof)
    h = changed[i]
    changed[i] = h[:at] + bytes([h[at] ^ mask]) + h[at + 1 :]
    return changed


# --- hashing ------------------------------------------------------------------------------


def test_hashes_match_certificate_transparency_vectors() -> None:
    # google/certificate-transparency python/ct/crypto/merkle_test.py, TreeHasherTest.
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == ("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(bytes.fromhex("101112131415161718191a1b1c1d1e1f")).hex() == (
        "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a"
    )
    left = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    right = bytes.fromhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f")
    assert node_hash(left, right).hex() == ("1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57")


@pytest.mark.parametrize("size", range(9))
def test_published_roots_for_sizes_0_to_8(size: int) -> None:
    assert root_from_leaf_hashes(LEAVES[:size]) == ROOTS[size]
    assert MemoryTree(LEAVES[:size]).root() == ROOTS[size]
    assert root_at(size, TREE8) == ROOTS[size]  # a past checkpoint, from stored nodes only


def test_every_published_node_hash() -> None:
    for level, row in enumerate(NODES):
        for index, expected in enumerate(row):
            assert TREE8.perfect_node(level, index) == expected


@pytest.mark.parametrize(("level", "index"), [(0, 8), (1, 4), (3, 1), (4, 0), (0, -1), (-1, 0)])
def test_memory_tree_refuses_nodes_it_does_not_hold(level: int, index: int) -> None:
    with pytest.raises(KeyError):
        TREE8.perfect_node(level, index)


def test_subtree_hash_vectors_of_draft_merkle_tree_certs() -> None:
    size = SUBTREES["max_size"]
    leaves = [leaf_hash(bytes([i])) for i in range(size)]
    tree = MemoryTree(leaves)
    from_nodes, from_leaves = hashlib.sha256(), hashlib.sha256()
    for end in range(1, size + 1):
        for start in range(end):
            if start and start % (1 << (end - start - 1).bit_length()):
                continue  # not a valid subtree (start not a multiple of bit_ceil(end - start))
            prefix = f"[{start}, {end}) "
            from_nodes.update(f"{prefix}{subtree_root(start, end, tree).hex()}\n".encode())
            from_leaves.update(f"{prefix}{root_from_leaf_hashes(leaves[start:end]).hex()}\n".encode())
    assert from_nodes.hexdigest() == SUBTREES["digest"]
    assert from_leaves.hexdigest() == SUBTREES["digest"]


def test_subtree_root_refuses_unaligned_or_inverted_ranges() -> None:
    for start, end in [(1, 3), (2, 5), (4, 9), (3, 2), (-1, 1)]:
        with pytest.raises(ValueError):
            subtree_root(start, end, TREE8)
    with pytest.raises(ValueError):
        root_at(-1, TREE8)


# --- frontier and node store ----------------------------------------------------------


@pytest.mark.parametrize("size", range(9))
def test_frontier_is_the_published_compact_range(size: int) -> None:
    expected = [NODES[level][index] for level, index in TD["compact_trees"][size]]
    assert MemoryTree(LEAVES[:size]).frontier.hashes == tuple(expected)


def test_frontier_root_and_json_round_trip_for_many_sizes() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
    frontier = Frontier()
    for size in range(301):
        assert frontier.size == size
        assert frontier.root() == root_from_leaf_hashes(leaves[:size])
        restored = Frontier.from_json(size, json.loads(json.dumps(frontier.to_json())))
        assert restored.hashes == frontier.hashes
        if size < 300:
            restored.append(leaves[size])  # a restored checkpoint keeps appending correctly
            frontier.append(leaves[size])
            assert restored.root() == frontier.root()


def test_frontier_copy_is_independent() -> None:
    original = MemoryTree(LEAVES[:5]).frontier
    copy = original.copy()
    copy.append(LEAVES[5])
    assert (original.size, original.root()) == (5, ROOTS[5])
    assert (copy.size, copy.root()) == (6, ROOTS[6])


@pytest.mark.parametrize(
    ("size", "hashes"),
    [
        (3, [TD["root_hashes"][1]]),  # popcount(3) == 2 hashes expected
        (1, ["zz" * 32]),  # not hex
        (1, ["00" * 31]),  # not 32 bytes
        (-1, []),
    ],
)
def test_frontier_from_json_rejects_malformed_state(size: int, hashes: list[str]) -> None:
    with pytest.raises(ValueError):
        Frontier.from_json(size, hashes)


def test_frontier_append_rejects_a_non_hash() -> None:
    with pytest.raises(ValueError):
        Frontier().append(b"short")


def test_append_reports_exactly_the_nodes_it_created() -> None:
    tree = MemoryTree()
    reported: dict[tuple[int, int], bytes] = {}
    for leaf in LEAVES:
        for node in tree.append(leaf):
            assert (node.level, node.index) not in reported
            reported[node.level, node.index] = node.hash
    stored = {(lvl, i): h for lvl, row in enumerate(NODES) for i, h in enumerate(row)}
    assert reported == stored
    assert MemoryTree(LEAVES[:7]).append(LEAVES[7]) == [
        Node(0, 7, NODES[0][7]),
        Node(1, 3, NODES[1][3]),
        Node(2, 1, NODES[2][1]),
        Node(3, 0, NODES[3][0]),
    ]


# --- published proofs ----------------------------------------------------------------


def _inclusion_probes(index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes) -> dict[str, tuple]:
    """corruptInclusionProof: every tampering transparency-dev/merkle expects to be rejected."""
    probes = {
        "index - 1": (leaf, index - 1, size, proof, root),
        "index + 1": (leaf, index + 1, size, proof, root),
        "index ^ 2": (leaf, index ^ 2, size, proof, root),
        "size * 2": (leaf, index, size * 2, proof, root),
        "size // 2": (leaf, index, size // 2, proof, root),
        "wrong leaf": (b"WrongLeaf", index, size, proof, root),
        "empty root": (leaf, index, size, proof, EMPTY_ROOT),
        "random root": (leaf, index, size, proof, SOME_HASH),
        "trailing garbage": (leaf, index, size, [*proof, b""], root),
        "trailing root": (leaf, index, size, [*proof, root], root),
        "preceding garbage": (leaf, index, size, [b"", *proof], root),
        "preceding root": (leaf, index, size, [root, *proof], root),
    }
    for i in range(len(proof)):
        probes[f"proof[{i}] bit 3"] = (leaf, index, size, _flip(proof, i, 8), root)
    if proof:
        probes["removed component"] = (leaf, index, size, proof[:-1], root)
    if len(proof) > 1:
        probes["inserted component"] = (leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root)
    return probes


def _consistency_probes(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> dict[str, tuple]:
    """corruptConsistencyProof: every tampering transparency-dev/merkle expects to be rejected."""
    probes = {
        "size1 - 1": (size1 - 1, size2, root1, root2, proof),
        "size1 + 1": (size1 + 1, size2, root1, root2, proof),
        "size1 ^ 2": (size1 ^ 2, size2, root1, root2, proof),
        "size2 * 2": (size1, size2 * 2, root1, root2, proof),
        "size2 // 2": (size1, size2 // 2, root1, root2, proof),
        "wrong root1": (size1, size2, b"WrongRoot", root2, proof),
        "wrong root2": (size1, size2, root1, b"WrongRoot", proof),
        "swapped roots": (size1, size2, root2, root1, proof),
        "empty proof": (size1, size2, root1, root2, []),
        "trailing garbage": (size1, size2, root1, root2, [*proof, b""]),
        "trailing root1": (size1, size2, root1, root2, [*proof, root1]),
        "trailing root2": (size1, size2, root1, root2, [*proof, root2]),
        "preceding garbage": (size1, size2, root1, root2, [b"", *proof]),
        "preceding root1": (size1, size2, root1, root2, [root1, *proof]),
        "preceding root2": (size1, size2, root1, root2, [root2, *proof]),
        "preceding proof[0]": (size1, size2, root1, root2, [proof[0], *proof]),
        "truncated proof": (size1, size2, root1, root2, proof[:-1]),
    }
    for i in range(len(proof)):
        probes[f"proof[{i}] bit 4"] = (size1, size2, root1, root2, _flip(proof, i, 16))
    return probes


@pytest.mark.parametrize("vector", TD["inclusion_proofs"], ids=lambda v: f"{v['leaf']}-of-{v['size']}")
def test_published_inclusion_proof(vector: dict) -> None:
    index, size, proof = vector["leaf"] - 1, vector["size"], _hexes(vector["proof"])
    assert inclusion_proof(index, size, TREE8) == proof
    assert verify_inclusion(LEAVES[index], index, size, proof, ROOTS[size])
    probes = _inclusion_probes(index, size, proof, ROOTS[size], LEAVES[index])
    accepted = [name for name, args in probes.items() if verify_inclusion(*args)]
    assert accepted == []


@pytest.mark.parametrize("vector", TD["consistency_proofs"], ids=lambda v: f"{v['size1']}-to-{v['size2']}")
def test_published_consistency_proof(vector: dict) -> None:
    size1, size2, proof = vector["size1"], vector["size2"], _hexes(vector["proof"])
    root1, root2 = ROOTS[size1], ROOTS[size2]
    assert consistency_proof(size1, size2, TREE8) == proof
    assert verify_consistency(size1, size2, root1, root2, proof)
    if proof:  # as upstream, tamper only with non-trivial proofs
        probes = _consistency_probes(size1, size2, root1, root2, proof)
        accepted = [name for name, args in probes.items() if verify_consistency(*args)]
        assert accepted == []


def test_published_ct_log_inclusion_proof() -> None:
    leaf = bytes.fromhex(CT_LOG["leaf_hash"])
    index, size = CT_LOG["leaf_index"], CT_LOG["tree_size"]
    proof, root = _hexes(CT_LOG["proof"]), bytes.fromhex(CT_LOG["root"])
    assert leaf_hash(bytes.fromhex(CT_LOG["leaf_input"])) == leaf
    assert verify_inclusion(leaf, index, size, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, bytes(32))
    assert not verify_inclusion(leaf, index + 2 ** (len(proof) + 1), size, proof, root)
    probes = _inclusion_probes(index, size, proof, root, leaf)
    assert [name for name, args in probes.items() if verify_inclusion(*args)] == []


# --- verifier edge cases ---------------------------------------------------------------


def test_inclusion_verifier_rejects_impossible_positions_and_bad_hashes() -> None:
    # transparency-dev/merkle proof/verify_test.go, TestVerifyInclusion{,SingleEntry}.
    for index, size in [(0, 0), (0, 1), (1, 0), (2, 1)]:
        assert not verify_inclusion(SOME_HASH, index, size, [], b"")
        assert not verify_inclusion(b"", index, size, [], EMPTY_ROOT)
        assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
    single = leaf_hash(b"data")
    assert verify_inclusion(single, 0, 1, [], single)
    assert not verify_inclusion(b"", 0, 1, [], single)
    assert not verify_inclusion(single, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], b"")  # equal, but not hashes
    assert not verify_inclusion(LEAVES[1], 0, 1, [LEAVES[0]], ROOTS[2])  # runs past the top
    # google/certificate-transparency merkle_test.py: too long and too short for size 4.
    zeros, ones = bytes(32), b"\x11" * 32
    assert not verify_inclusion(ones, 0, 4, [zeros, zeros, zeros], zeros)
    assert not verify_inclusion(ones, 0, 4, [zeros], zeros)


def test_proofs_between_larger_trees_do_not_pass_for_smaller_sizes() -> None:
    # In a 13-leaf tree, the proofs for leaf 9 and for 11 -> 13 are the proofs for leaf 1 and
    # for 3 -> 5 inside leaves [8, 13), plus the root of [0, 8). They hash to the right roots,
    # so only the RFC's "sn == 0" checks stop them passing for the smaller sizes.
    tree = MemoryTree(leaf_hash(bytes([i])) for i in range(13))
    root11, root13 = root_at(11, tree), root_at(13, tree)
    leaf9 = tree.perfect_node(0, 9)
    assert verify_inclusion(leaf9, 9, 13, inclusion_proof(9, 13, tree), root13)
    assert not verify_inclusion(leaf9, 1, 5, inclusion_proof(9, 13, tree), root13)
    assert verify_consistency(11, 13, root11, root13, consistency_proof(11, 13, tree))
    assert not verify_consistency(3, 5, root11, root13, consistency_proof(11, 13, tree))


@pytest.mark.parametrize(
    ("old_size", "new_size", "old_root", "new_root", "proof", "valid"),
    [
        # Size 0 is refused whatever follows, as transparency-dev/merkle's VerifyConsistency
        # does: every tree extends the empty one, so such a proof would pass any new root.
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [], False),
        (0, 5, EMPTY_ROOT, ROOTS[5], [], False),
        (0, 5, EMPTY_ROOT, SOME_HASH, [], False),
        (0, 5, EMPTY_ROOT, ROOTS[5], [EMPTY_ROOT], False),
        (0, 5, SOME_HASH, ROOTS[5], [], False),
        (3, 3, ROOTS[3], ROOTS[3], [], True),
        (3, 3, ROOTS[3], ROOTS[3], [ROOTS[3]], False),
        (3, 3, ROOTS[3], ROOTS[4], [], False),
        (1, 0, ROOTS[1], EMPTY_ROOT, [], False),
        (2, 1, ROOTS[2], ROOTS[1], [], False),
        (-1, 3, ROOTS[1], ROOTS[3], [], False),
        (1, 2, ROOTS[1], ROOTS[2], [], False),
        (1, 2, ROOTS[1], ROOTS[2], [LEAVES[1][:31]], False),
    ],
)
def test_consistency_verifier_edge_cases(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list, valid: bool
) -> None:
    assert verify_consistency(old_size, new_size, old_root, new_root, proof) is valid


@pytest.mark.parametrize(("index", "size"), [(0, 0), (8, 8), (9, 8), (-1, 8)])
def test_inclusion_proof_refuses_impossible_requests(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="no inclusion proof"):
        inclusion_proof(index, size, TREE8)


@pytest.mark.parametrize(("old_size", "new_size"), [(5, 4), (1, 0), (-1, 3)])
def test_consistency_proof_refuses_impossible_requests(old_size: int, new_size: int) -> None:
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(old_size, new_size, TREE8)


def test_trivial_consistency_proofs_are_empty() -> None:
    assert consistency_proof(0, 8, TREE8) == []
    assert consistency_proof(5, 5, TREE8) == []


@pytest.mark.parametrize("new_size", [0, 1, 2, 5, 8])
def test_no_new_root_is_consistent_with_the_empty_tree(new_size: int) -> None:
    """The fault this guards against: with size 0 accepted, any root (a forked or rewritten
    log) passed as an extension of the empty tree. The proof generator still answers [] for
    size 0 (nothing to prove); the verifier never takes it."""
    proof = consistency_proof(0, new_size, TREE8)
    for new_root in (ROOTS[new_size], EMPTY_ROOT, SOME_HASH):
        assert not verify_consistency(0, new_size, EMPTY_ROOT, new_root, proof)


# --- cost: proofs read O(log n) nodes ----------------------------------------------------


class _SyntheticNodes:
    """A huge virtual log: any node on demand, counting the lookups a proof makes."""

    def __init__(self) -> None:
        self.lookups = 0

    def perfect_node(self, level: int, index: int) -> bytes:
        self.lookups += 1
        return hashlib.sha256(f"{level}/{index}".encode()).digest()


@pytest.mark.parametrize("size", [2**40 + 12345, 2**40, 3 * 2**37 + 1])
def test_proofs_cost_logarithmic_lookups(size: int) -> None:
    budget = 2 * size.bit_length() + 2
    for make_proof in [
        lambda nodes: inclusion_proof(size // 3, size, nodes),
        lambda nodes: inclusion_proof(size - 1, size, nodes),
        lambda nodes: consistency_proof(size // 3, size, nodes),
        lambda nodes: consistency_proof(size - 1, size, nodes),
        lambda nodes: root_at(size, nodes),
    ]:
        nodes = _SyntheticNodes()
        make_proof(nodes)
        assert nodes.lookups <= budget


# --- property tests --------------------------------------------------------------------

MAX_SIZE = 300
BIG = MemoryTree(leaf_hash(i.to_bytes(2, "big")) for i in range(MAX_SIZE))
BIG_LEAVES = [BIG.perfect_node(0, i) for i in range(MAX_SIZE)]


@st.composite
def _positions(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def _size_pairs(draw: st.DrawFn) -> tuple[int, int]:
    new_size = draw(st.integers(2, MAX_SIZE))
    return draw(st.integers(1, new_size - 1)), new_size


def _bit_in(proof: list[bytes]) -> st.SearchStrategy[tuple[int, int, int]]:
    """(element, mask, byte offset): one bit anywhere in a non-empty proof."""
    return st.tuples(
        st.integers(0, len(proof) - 1),
        st.sampled_from([1 << b for b in range(8)]),
        st.integers(0, 31),
    )


@settings(max_examples=300)
@given(position=_positions(), other_index=st.integers(0, MAX_SIZE - 1), flip=st.data())
def test_generated_inclusion_proofs_verify_and_mutants_do_not(
    position: tuple[int, int], other_index: int, flip: st.DataObject
) -> None:
    index, size = position
    root = root_at(size, BIG)
    assert root == root_from_leaf_hashes(BIG_LEAVES[:size])
    proof = inclusion_proof(index, size, BIG)
    assert verify_inclusion(BIG_LEAVES[index], index, size, proof, root)

    if other_index < size and other_index != index:
        assert not verify_inclusion(BIG_LEAVES[index], other_index, size, proof, root)
        assert not verify_inclusion(BIG_LEAVES[other_index], index, size, proof, root)
    assert not verify_inclusion(BIG_LEAVES[index], index, size, proof, SOME_HASH)
    assert not verify_inclusion(BIG_LEAVES[index], index, size, [*proof, SOME_HASH], root)
    if proof:
        mutated = _flip(proof, *flip.draw(_bit_in(proof)))
        assert not verify_inclusion(BIG_LEAVES[index], index, size, mutated, root)
        assert not verify_inclusion(BIG_LEAVES[index], index, size, proof[:-1], root)


@settings(max_examples=300)
@given(sizes=_size_pairs(), flip=st.data())
def test_generated_consistency_proofs_verify_and_mutants_do_not(sizes: tuple[int, int], flip: st.DataObject) -> None:
    old_size, new_size = sizes
    old_root, new_root = root_at(old_size, BIG), root_at(new_size, BIG)
    proof = consistency_proof(old_size, new_size, BIG)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)

    assert not verify_consistency(old_size, new_size, new_root, old_root, proof)
    assert not verify_consistency(old_size, new_size, old_root, SOME_HASH, proof)
    assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
    assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, SOME_HASH])
    mutated = _flip(proof, *flip.draw(_bit_in(proof)))
    assert not verify_consistency(old_size, new_size, old_root, new_root, mutated)


# --- cross-check with an independent implementation (pymerkle, RFC 9162 hashing) ---------


def test_pymerkle_verifies_our_inclusion_proofs_and_agrees_on_roots() -> None:
    pymerkle = pytest.importorskip("pymerkle")
    entries = [i.to_bytes(2, "big") for i in range(70)]
    theirs = pymerkle.InmemoryTree(algorithm="sha256")
    theirs.append_entries(entries)
    ours = MemoryTree(leaf_hash(e) for e in entries)
    for size in range(1, len(entries) + 1):
        root = theirs.get_root(size)
        assert root_at(size, ours) == root
        for index in range(size):
            path = [ours.perfect_node(0, index), *inclusion_proof(index, size, ours)]
            their_proof = theirs.prove_inclusion(index + 1, size)  # 1-based index
            assert their_proof.path == path
            # Their proof object fixes the left/right rule; the hashes it carries are ours.
            rule = their_proof.rule
            proof = pymerkle.InclusionProof("sha256", True, size, index + 1, rule, path)
            pymerkle.verify_inclusion(path[0], root, proof, index=index + 1, size=size)
            if size > 1:
                tampered = [path[0], *_flip(path[1:], 0, 1)]
                proof = pymerkle.InclusionProof("sha256", True, size, index + 1, rule, tampered)
                with pytest.raises(pymerkle.InvalidProof):
                    pymerkle.verify_inclusion(path[0], root, proof)


def test_pymerkle_consistency_proofs_hold_between_our_roots() -> None:
    # pymerkle's consistency proof is not laid out as RFC 9162 PROOF (it always carries the old
    # root's base), so each side verifies its own proof against the other side's roots.
    pymerkle = pytest.importorskip("pymerkle")
    entries = [i.to_bytes(2, "big") for i in range(40)]
    theirs = pymerkle.InmemoryTree(algorithm="sha256")
    theirs.append_entries(entries)
    ours = MemoryTree(leaf_hash(e) for e in entries)
    for new_size in range(1, len(entries) + 1):
        for old_size in range(1, new_size + 1):
            old_root, new_root = root_at(old_size, ours), root_at(new_size, ours)
            pymerkle.verify_consistency(
                old_root,
                new_root,
                theirs.prove_consistency(old_size, new_size),
                prior_size=old_size,
                later_size=new_size,
            )
            assert verify_consistency(
                old_size,
                new_size,
                theirs.get_root(old_size),
                theirs.get_root(new_size),
                consistency_proof(old_size, new_size, ours),
            )


PROPS_CHAIN = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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


@PROPS_CHAIN
@given(ANYTHING, SIZES, SIZES, st.lists(ANYTHING, max_size=80), ANYTHING)
def test_verify_inclusion_never_raises(leaf: Any, index: int, size: int, proof: list[Any], root: Any) -> None:
    assert verify_inclusion(leaf, index, size, proof, root) in (True, False)


@PROPS_CHAIN
@given(SIZES, SIZES, ANYTHING, ANYTHING, st.lists(ANYTHING, max_size=80))
def test_verify_consistency_never_raises(old: int, new: int, old_root: Any, new_root: Any, proof: list[Any]) -> None:
    assert verify_consistency(old, new, old_root, new_root, proof) in (True, False)


HASH = st.binary(min_size=32, max_size=32)


@PROPS_CHAIN
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


@PROPS_CHAIN
@given(st.integers(1, 2**62), st.data())
def test_proof_sizes_stay_logarithmic_at_any_scale(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1), label="index")
    assert len(inclusion_proof(index, size, _Synthetic())) <= _ceil_log2(size)
    old = data.draw(st.integers(0, size), label="old size")
    assert len(consistency_proof(old, size, _Synthetic())) <= _ceil_log2(size) + 1


SMALL_N = 200
SMALL_TREE = MemoryTree(leaf_hash(i.to_bytes(2, "big")) for i in range(SMALL_N))
SMALL_LEAVES = [SMALL_TREE.perfect_node(0, i) for i in range(SMALL_N)]


@PROPS_CHAIN
@given(st.integers(0, 200), st.integers(0, 200))
def test_subtree_root_is_the_root_of_its_leaves_or_refuses(start: int, end: int) -> None:
    width = end - start
    aligned = width > 0 and start % (1 << (width - 1).bit_length()) == 0
    if start <= end and (width == 0 or aligned):
        assert subtree_root(start, end, SMALL_TREE) == root_from_leaf_hashes(SMALL_LEAVES[start:end])
    else:
        with pytest.raises(ValueError):
            subtree_root(start, end, SMALL_TREE)
