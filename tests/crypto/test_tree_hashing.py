"""RFC 9162 tree hashing with each suite's hash: same 0x00 / 0x01 domain separation.

intl: the published Certificate Transparency roots, and today's govchain.protocol.merkle.
gm: no SM3 tree vectors are published, so the roots are checked against the RFC's
recursive definition (MTH, §2.1.1) evaluated with the independent pure-Python SM3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.crypto import GM, INTL, CryptoSuite
from govchain.protocol import merkle
from tests.crypto import oracle

TREE = oracle.vector("rfc6962_tree.json")
LEAVES = [bytes.fromhex(x) for x in TREE["leaf_inputs"]]


def root(suite: CryptoSuite, leaves: Sequence[bytes]) -> bytes:
    """MTH built only from the suite's leaf_hash / node_hash, level by level."""
    level = [suite.leaf_hash(leaf) for leaf in leaves]
    if not level:
        return suite.empty_root
    while len(level) > 1:
        parents = [suite.node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = parents + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def reference_mth(h: Callable[[bytes], bytes], leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 as written: split at the largest power of two below n."""
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return h(b"\x01" + reference_mth(h, leaves[:k]) + reference_mth(h, leaves[k:]))


def test_intl_matches_the_published_roots() -> None:
    for size, expected in enumerate(TREE["roots_by_size"]):
        assert root(INTL, LEAVES[:size]).hex() == expected


def test_intl_is_todays_merkle_hashing() -> None:
    for leaf in LEAVES:
        assert INTL.leaf_hash(leaf) == merkle.leaf_hash(leaf)
    left, right = INTL.hash(b"l"), INTL.hash(b"r")
    assert INTL.node_hash(left, right) == merkle.node_hash(left, right)
    assert INTL.empty_root == merkle.EMPTY_ROOT


def test_gm_matches_the_rfc_definition_with_an_independent_sm3() -> None:
    for size in range(len(LEAVES) + 1):
        assert root(GM, LEAVES[:size]) == reference_mth(oracle.sm3, LEAVES[:size])
    assert GM.empty_root == oracle.sm3(b"")
    assert GM.leaf_hash(b"") == oracle.sm3(b"\x00")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=20))
def test_both_suites_follow_the_rfc_on_any_tree(leaves: list[bytes]) -> None:
    assert root(INTL, leaves) == reference_mth(lambda b: hashlib.sha256(b).digest(), leaves)
    assert root(GM, leaves) == reference_mth(GM.hash, leaves)


@pytest.mark.parametrize("suite", [INTL, GM], ids=lambda s: s.name)
def test_domain_separation(suite: CryptoSuite) -> None:
    a, b = suite.hash(b"a"), suite.hash(b"b")
    assert suite.leaf_hash(a + b) == suite.hash(b"\x00" + a + b)
    assert suite.node_hash(a, b) == suite.hash(b"\x01" + a + b)
    # The same 64 bytes as a leaf and as a pair of children hash differently.
    assert suite.leaf_hash(a + b) != suite.node_hash(a, b)
    assert suite.leaf_hash(b"") != suite.empty_root


def test_the_two_suites_give_different_trees() -> None:
    assert root(INTL, LEAVES) != root(GM, LEAVES)
