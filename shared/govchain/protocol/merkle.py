"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing, proofs and their verification.

The ledger commits to its history with the RFC 9162 §2.1 Merkle Tree Hash, so any RFC 6962/9162
client can check our checkpoints, inclusion proofs and consistency proofs without GovChain code.

Storage is kept out of this module. Appending needs only a :class:`Frontier` (O(log n) hashes,
persisted at each checkpoint); proofs need only a :class:`NodeSource` that can look up the root
of any perfect, aligned subtree. Every range root the RFC algorithms ask for is assembled from
at most log2(n)+1 such lookups, so a database-backed log serves each proof in O(log n) reads,
never by rehashing leaves.

The hash is the chain's crypto suite's (:mod:`govchain.crypto`): SHA-256 on an ``intl`` chain,
SM3 on a ``gm`` one, with RFC 9162's 0x00 / 0x01 domain separation either way. Every function
and class that hashes takes ``suite`` (any :class:`TreeHasher`, a ``CryptoSuite`` is one);
``None``, the default, is SHA-256 through the module-level functions, the ``intl`` fast path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class TreeHasher(Protocol):
    """What tree hashing needs of a suite (every :class:`~govchain.crypto.CryptoSuite` has it)."""

    def leaf_hash(self, leaf: bytes) -> bytes: ...
    def node_hash(self, left: bytes, right: bytes) -> bytes: ...
    @property
    def empty_root(self) -> bytes: ...


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf): the prefix keeps a leaf from passing for an interior node."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node over two child hashes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hasher(suite: TreeHasher | None) -> Callable[[bytes], bytes]:
    """The leaf hash function of ``suite`` (SHA-256's when None): look it up once, call it often."""
    return leaf_hash if suite is None else suite.leaf_hash


def _node(suite: TreeHasher | None) -> Callable[[bytes, bytes], bytes]:
    return node_hash if suite is None else suite.node_hash


def _empty(suite: TreeHasher | None) -> bytes:
    return EMPTY_ROOT if suite is None else suite.empty_root


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes], suite: TreeHasher | None = None) -> bytes:
    """MTH (RFC 9162 §2.1.1) over all leaves, for building or auditing a log from scratch.

    Pairing level by level and promoting a trailing odd node unchanged gives exactly the
    RFC's split at the largest power of two below n, without recursion.
    """
    level = list(leaf_hashes)
    if not level:
        return _empty(suite)
    node_hash = _node(suite)
    while len(level) > 1:
        parents = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


class Node(NamedTuple):
    """The root ``hash`` of the perfect subtree over leaves [index*2^level, (index+1)*2^level)."""

    level: int
    index: int  # type: ignore[assignment]  # RFC 9162's name; shadows tuple.index, never called on a Node
    hash: bytes


class Frontier:
    """The compact range [0, size): roots of the perfect subtrees that tile the log, largest first.

    It is all the state needed to append leaves and to compute the current root, so a service
    persists it at each checkpoint instead of re-reading leaves. Its length is popcount(size).
    """

    __slots__ = ("_hashes", "_node_hash", "_size", "suite")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = (), suite: TreeHasher | None = None) -> None:
        if size < 0:
            raise ValueError(f"frontier size must be >= 0, got {size}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes, got {len(hashes)}")
        for h in hashes:
            _require_hash(h)
        self._size = size
        self._hashes = list(hashes)
        self.suite = suite
        self._node_hash = _node(suite)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Add one leaf; return every perfect node it completes, leaf first.

        A node store persists exactly these nodes: that is all a later proof will look up.
        """
        _require_hash(leaf_hash)
        node = Node(0, self._size, leaf_hash)
        created = [node]
        node_hash = self._node_hash
        while node.index & 1:  # a right child: merge with the left sibling on the frontier
            node = Node(node.level + 1, node.index >> 1, node_hash(self._hashes.pop(), node.hash))
            created.append(node)
        self._hashes.append(node.hash)
        self._size += 1
        return created

    def root(self) -> bytes:
        """MTH of the whole log: fold the subtree roots from the right."""
        if not self._hashes:
            return _empty(self.suite)
        node_hash = self._node_hash
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root

    def to_json(self) -> list[str]:
        """Hex hashes, largest subtree first; store together with :attr:`size`."""
        return [h.hex() for h in self._hashes]

    @classmethod
    def from_json(cls, size: int, hashes: Sequence[str], suite: TreeHasher | None = None) -> Frontier:
        """Rebuild a persisted frontier; raise ValueError on a malformed one."""
        return cls(size, [bytes.fromhex(h) for h in hashes], suite)

    def copy(self) -> Frontier:
        return Frontier(self._size, self._hashes, self.suite)

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, hashes={self.to_json()!r})"


def extended(log: Frontier, leaf_hashes: Iterable[bytes]) -> tuple[Frontier, list[Node]]:
    """A copy of ``log`` with ``leaf_hashes`` appended, and every perfect node they completed
    (what a node store persists); ``log`` itself is left as it was."""
    after = log.copy()
    append = after.append
    return after, [node for leaf in leaf_hashes for node in append(leaf)]


class NodeSource(Protocol):
    """Where proof generation reads the tree: perfect-subtree roots by (level, index)."""

    def perfect_node(self, level: int, index: int) -> bytes:
        """Root of the perfect subtree over leaves [index*2^level, (index+1)*2^level).

        Raise KeyError when the store does not hold that node.
        """
        ...


class MemoryTree(NodeSource):
    """Every perfect node, held level by level in lists: a NodeSource for tests and small logs."""

    def __init__(self, leaf_hashes: Iterable[bytes] = (), suite: TreeHasher | None = None) -> None:
        self._frontier = Frontier(suite=suite)
        self._levels: list[list[bytes]] = []
        for h in leaf_hashes:
            self.append(h)

    @property
    def size(self) -> int:
        return self._frontier.size

    @property
    def frontier(self) -> Frontier:
        """A copy of the current compact range, as a service would checkpoint it."""
        return self._frontier.copy()

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Add one leaf; return the nodes it created (what a database store would insert)."""
        created = self._frontier.append(leaf_hash)
        for node in created:
            if node.level == len(self._levels):
                self._levels.append([])
            self._levels[node.level].append(node.hash)
        return created

    def root(self) -> bytes:
        return self._frontier.root()

    def perfect_node(self, level: int, index: int) -> bytes:
        if 0 <= level < len(self._levels) and 0 <= index < len(self._levels[level]):
            return self._levels[level][index]
        raise KeyError(f"no perfect node at level {level}, index {index}")


def subtree_root(start: int, end: int, nodes: NodeSource, suite: TreeHasher | None = None) -> bytes:
    """MTH(D[start:end]) from popcount(end - start) perfect-node lookups.

    The range must be a subtree the RFC algorithms can visit: ``start`` is a multiple of the
    smallest power of two >= ``end - start``. Then its binary decomposition, largest part first,
    is a run of aligned perfect subtrees, and MTH folds their roots from the right.
    """
    width = end - start
    if start < 0 or width < 0:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    if width == 0:
        return _empty(suite)
    if start % (1 << (width - 1).bit_length()):
        raise ValueError(f"leaf range [{start}, {end}) is not an aligned subtree")
    roots = []
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            roots.append(nodes.perfect_node(level, start >> level))
            start += 1 << level
    node_hash = _node(suite)
    root = roots.pop()
    while roots:
        root = node_hash(roots.pop(), root)
    return root


def root_at(size: int, nodes: NodeSource, suite: TreeHasher | None = None) -> bytes:
    """The root of the log when it held ``size`` leaves (a past checkpoint)."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    return subtree_root(0, size, nodes, suite)


def inclusion_proof(index: int, size: int, nodes: NodeSource, suite: TreeHasher | None = None) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf-side sibling first.

    Walks the RFC's splits from the top. Once the walk turns left it is inside a perfect
    subtree, so at most one sibling is an imperfect range and the proof costs O(log n) lookups.
    """
    if not 0 <= index < size:
        raise ValueError(f"no inclusion proof for leaf {index} in a tree of size {size}")
    path = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(subtree_root(start + k, end, nodes, suite))
            end = start + k
        else:
            path.append(subtree_root(start, start + k, nodes, suite))
            start += k
    path.reverse()
    return path


def all_inclusion_proofs(
    leaf_hashes: Sequence[bytes], suite: TreeHasher | None = None
) -> tuple[bytes, list[list[bytes]]]:
    """The root of a small tree and every leaf's PATH (as :func:`inclusion_proof` gives it),
    in one pass over the RFC's splits: n log n appends instead of n separate proof walks."""
    if not leaf_hashes:
        raise ValueError("a tree without leaves has no inclusion proofs")
    if len(leaf_hashes) == 1:
        return leaf_hashes[0], [[]]
    k = _largest_power_of_two_below(len(leaf_hashes))
    left_root, left_paths = all_inclusion_proofs(leaf_hashes[:k], suite)
    right_root, right_paths = all_inclusion_proofs(leaf_hashes[k:], suite)
    for path in left_paths:
        path.append(right_root)
    for path in right_paths:
        path.append(left_root)
    return _node(suite)(left_root, right_root), left_paths + right_paths


def consistency_proof(old_size: int, new_size: int, nodes: NodeSource, suite: TreeHasher | None = None) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1; empty when either tree is trivial.

    Follows SUBPROOF's splits from the top; the old tree's own root is included only when it
    is not the leftmost subtree (the RFC's flag ``b`` turned false by a step to the right).
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    proof = []
    start, end = 0, new_size
    old_root_is_leftmost = True
    while old_size != end:
        k = _largest_power_of_two_below(end - start)
        if old_size <= start + k:
            proof.append(subtree_root(start + k, end, nodes, suite))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k, nodes, suite))
            start += k
            old_root_is_leftmost = False
    if not old_root_is_leftmost:
        proof.append(subtree_root(start, end, nodes, suite))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes, suite: TreeHasher | None = None
) -> bool:
    """RFC 9162 §2.1.3.2, step for step: does ``proof`` place ``leaf_hash`` at ``index``?

    Never raises on bad input; any malformed proof, hash or position is simply False.
    """
    return _all_hashes(root) and root_from_inclusion(leaf_hash, index, size, proof, suite) == root


def root_from_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], suite: TreeHasher | None = None
) -> bytes | None:
    """The root that ``proof`` leads to from ``leaf_hash`` at ``index`` in a tree of ``size``
    (RFC 9162 §2.1.3.2 without the final comparison), or None for a malformed proof.

    For a root that is not known in advance but signed, as a batch envelope's is."""
    if not 0 <= index < size or not _all_hashes(leaf_hash, *proof):
        return None
    node_hash = _node(suite)
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    suite: TreeHasher | None = None,
) -> bool:
    """RFC 9162 §2.1.4.2, step for step: is the tree ``old_root`` a prefix of ``new_root``?

    The RFC covers 0 < old_size < new_size; equal sizes (> 0) need equal roots and an empty
    proof. An old size of 0 is refused, whatever the roots and the proof: every tree extends
    the empty one, so such a "proof" would accept any new root and show nothing about it. This
    is what the Go reference, transparency-dev/merkle ``proof.VerifyConsistency``, does
    ("consistency proof from empty tree is meaningless"); a client with no earlier checkpoint
    has to trust its first one on other grounds (a signature, witnesses). Never raises on bad
    input.
    """
    if not 0 < old_size <= new_size or not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    node_hash = _node(suite)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


def _largest_power_of_two_below(n: int) -> int:
    """The RFC's split point k: the largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _all_hashes(*values: bytes) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def _require_hash(value: bytes) -> None:
    if not (isinstance(value, bytes) and len(value) == HASH_SIZE):
        raise ValueError(f"expected a {HASH_SIZE}-byte hash, got {value!r:.80}")
