"""An independent c2sp.org/tlog-tiles client, written from tlog-tiles.md and RFC 9162 alone (it
imports nothing from govchain): it fetches tiles over HTTP, rebuilds any Merkle Tree Hash from
them, derives inclusion and consistency proofs from the RFC's recursive definitions, and checks
them by recomputing the roots recursively — a different algorithm from the iterative one the
ledger's verifier uses, so the two cannot share a mistake.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Callable

WIDTH = 256


def leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """RFC 9162: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def index_path(n: int) -> str:
    """tlog-tiles: 3-digit elements, every one but the last prefixed with x."""
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{g:03d}" for g in groups[:-1]] + [f"{groups[-1]:03d}"])


def http_fetcher(base_url: str) -> Callable[[str], bytes]:
    def fetch(path: str) -> bytes:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/{path}", timeout=10) as answer:
            return answer.read()

    return fetch


class TiledTree:
    """The tree of ``size`` leaves as served in tiles under some prefix."""

    def __init__(self, fetch: Callable[[str], bytes], size: int) -> None:
        self.fetch = fetch
        self.size = size
        self._tiles: dict[tuple[int, int], bytes] = {}
        self.fetched: list[str] = []

    def tile_width(self, level: int, index: int) -> int:
        if index < self.size // WIDTH ** (level + 1):
            return WIDTH
        return (self.size // WIDTH**level) % WIDTH

    def tile(self, level: int, index: int) -> bytes:
        if (level, index) not in self._tiles:
            width = self.tile_width(level, index)
            path = f"tile/{level}/{index_path(index)}" + ("" if width == WIDTH else f".p/{width}")
            data = self.fetch(path)
            self.fetched.append(path)
            if len(data) != 32 * width:
                raise ValueError(f"{path}: {len(data)} bytes, expected {32 * width}")
            self._tiles[(level, index)] = data
        return self._tiles[(level, index)]

    def entries(self, index: int) -> list[bytes]:
        width = self.tile_width(0, index)
        data = self.fetch(f"tile/entries/{index_path(index)}" + ("" if width == WIDTH else f".p/{width}"))
        out, at = [], 0
        while at < len(data):
            length = int.from_bytes(data[at : at + 2], "big")
            out.append(data[at + 2 : at + 2 + length])
            at += 2 + length
        if at != len(data) or len(out) != width:
            raise ValueError("malformed entry bundle")
        return out

    def perfect(self, height: int, k: int) -> bytes:
        """MTH of the 2^height leaves starting at k * 2^height."""
        level, rest = divmod(height, 8)
        if rest:
            return node(self.perfect(height - 1, 2 * k), self.perfect(height - 1, 2 * k + 1))
        data = self.tile(level, k // WIDTH)
        at = (k % WIDTH) * 32
        if at + 32 > len(data):
            raise ValueError("hash beyond the tile")
        return data[at : at + 32]

    def mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n & (n - 1) == 0 and lo % n == 0:
            return self.perfect(n.bit_length() - 1, lo // n)
        k = split_point(n)
        return node(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self) -> bytes:
        return self.mth(0, self.size)

    def inclusion_proof(self, m: int) -> list[bytes]:
        """PATH(m, D[0:size]) per RFC 9162 §2.1.3.1."""

        def path(m: int, lo: int, hi: int) -> list[bytes]:
            if hi - lo == 1:
                return []
            k = split_point(hi - lo)
            if m < lo + k:
                return path(m, lo, lo + k) + [self.mth(lo + k, hi)]
            return path(m, lo + k, hi) + [self.mth(lo, lo + k)]

        return path(m, 0, self.size)

    def consistency_proof(self, m: int) -> list[bytes]:
        """PROOF(m, D[0:size]) per RFC 9162 §2.1.4.1."""

        def subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
            if m == hi:
                return [] if whole else [self.mth(lo, hi)]
            k = split_point(hi - lo)
            if m <= lo + k:
                return subproof(m, lo, lo + k, whole) + [self.mth(lo + k, hi)]
            return subproof(m, lo + k, hi, False) + [self.mth(lo, lo + k)]

        if m in (0, self.size):
            return []
        return subproof(m, 0, self.size, True)


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, proof: list[bytes]) -> bytes | None:
    """The root ``proof`` leads to, by retracing PATH's recursion (siblings top-last)."""
    remaining = list(proof)

    def climb(lo: int, hi: int) -> bytes | None:
        if hi - lo == 1:
            return leaf_hash
        if not remaining:
            return None
        k = split_point(hi - lo)
        sibling = remaining.pop()
        if index < lo + k:
            below = climb(lo, lo + k)
            return None if below is None else node(below, sibling)
        below = climb(lo + k, hi)
        return None if below is None else node(sibling, below)

    if not 0 <= index < size:
        return None
    result = climb(0, size)
    return result if not remaining else None


def consistent(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """Does ``proof`` show the old tree is a prefix of the new one? Retraces SUBPROOF."""
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not 0 < old_size < new_size:
        return False
    remaining = list(proof)

    def roots(lo: int, hi: int, whole: bool) -> tuple[bytes, bytes] | None:
        """(MTH of D[lo:old_size], MTH of D[lo:hi]) as the proof has them."""
        if old_size == hi:
            if whole:
                return old_root, old_root
            if not remaining:
                return None
            shared = remaining.pop(0)
            return shared, shared
        if not remaining:
            return None
        k = split_point(hi - lo)
        sibling = remaining.pop()
        if old_size <= lo + k:
            below = roots(lo, lo + k, whole)
            return None if below is None else (below[0], node(below[1], sibling))
        below = roots(lo + k, hi, False)
        return None if below is None else (node(sibling, below[0]), node(sibling, below[1]))

    result = roots(0, new_size, True)
    return result is not None and not remaining and result == (old_root, new_root)
