"""c2sp.org/tlog-tiles: the Merkle tree served as static, cacheable tiles and entry bundles.

A tile at level L, index N holds up to 256 consecutive hashes of tree level 8·L: hash i is the
root of the perfect subtree over leaves [(N·256 + i)·256^L, (N·256 + i + 1)·256^L). In the
terms of :mod:`govchain.protocol.merkle` that is ``perfect_node(8·L, N·256 + i)``, so tiles are
read straight from the nodes the ledger already stores for its proofs, and a client can compute
any inclusion or consistency proof from them without a proof API. Full tiles are immutable; the
rightmost tile of each level is partial (``.p/<W>``) and exists per checkpointed tree size.

Entry bundles hold the leaves themselves, each prefixed by its big-endian uint16 length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from govchain.protocol.merkle import NodeSource
from govchain.transparency.errors import EntryTooLarge, MalformedTilePath, TileUnavailable

TILE_HEIGHT = 8
TILE_WIDTH = 256
"""A full tile is 256 hashes (8,192 bytes); a full entry bundle is 256 entries."""
HASH_SIZE = 32
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF
"""The largest entry a bundle's 16-bit length prefix can carry."""

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_INDEX_HEAD = re.compile(r"x[0-9]{3}")
_INDEX_LAST = re.compile(r"[0-9]{3}")


@runtime_checkable
class NodeRangeSource(Protocol):
    """A node source that can read a run of nodes of one level at once (a database range scan);
    tiles use it when the source offers it, else one :meth:`NodeSource.perfect_node` per hash."""

    def perfect_nodes(self, level: int, start: int, count: int) -> Sequence[bytes]:
        """Nodes (level, start) .. (level, start + count - 1); KeyError if any is missing."""
        ...


@dataclass(frozen=True, order=True, slots=True)
class Tile:
    """Tile coordinates: level L (tree level 8·L), index N within the level, width W (1..256).

    Entry bundles share the coordinates of level-0 tiles (:meth:`entries_path`)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise ValueError(f"tile level is 0..{MAX_LEVEL}, got {self.level}")
        if self.index < 0:
            raise ValueError(f"tile index is >= 0, got {self.index}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise ValueError(f"tile width is 1..{TILE_WIDTH}, got {self.width}")

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def node_level(self) -> int:
        """The Merkle tree level of the tile's hashes (8·L)."""
        return TILE_HEIGHT * self.level

    @property
    def first_node(self) -> int:
        """Index, within :attr:`node_level`, of the tile's first hash."""
        return self.index * TILE_WIDTH

    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]``."""
        return f"tile/{self.level}/{encode_index(self.index)}{self._suffix()}"

    def entries_path(self) -> str:
        """``tile/entries/<N>[.p/<W>]``: the entry bundle of this level-0 tile's leaves."""
        if self.level != 0:
            raise ValueError("entry bundles correspond to level-0 tiles")
        return f"tile/entries/{encode_index(self.index)}{self._suffix()}"

    def _suffix(self) -> str:
        return "" if self.is_full else f".p/{self.width}"


def encode_index(index: int) -> str:
    """Zero-padded 3-digit path elements, all but the last prefixed ``x``: 1234067 → x001/x234/067."""
    if index < 0:
        raise ValueError("a tile index is >= 0")
    parts = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        parts.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(parts))


def parse_tile_path(path: str) -> tuple[Tile, bool]:
    """(tile, is_entry_bundle) from ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``.

    Only the one canonical spelling of each tile is accepted (no extra leading ``x000``
    elements, no leading zeros), so a cache never holds two copies. Raises MalformedTilePath."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile" or len(path) > 200:
        raise MalformedTilePath(f"not a tile path: {path[:80]!r}")
    entries = parts[1] == "entries"
    if not entries and not _LEVEL.fullmatch(parts[1]):
        raise MalformedTilePath(f"bad tile level in {path[:80]!r}")
    level = 0 if entries else int(parts[1])
    elements = parts[2:]
    width = TILE_WIDTH
    if len(elements) >= 2 and elements[-2].endswith(".p"):
        if not _WIDTH.fullmatch(elements[-1]) or int(elements[-1]) >= TILE_WIDTH:
            raise MalformedTilePath(f"bad partial width in {path[:80]!r}")
        width = int(elements[-1])
        elements = [*elements[:-2], elements[-2][:-2]]
    if not all(_INDEX_HEAD.fullmatch(e) for e in elements[:-1]) or not _INDEX_LAST.fullmatch(elements[-1]):
        raise MalformedTilePath(f"bad tile index in {path[:80]!r}")
    index = 0
    for element in elements:
        index = index * 1000 + int(element.lstrip("x"))
    try:
        tile = Tile(level, index, width)
    except ValueError as exc:
        raise MalformedTilePath(str(exc)) from None
    if (tile.entries_path() if entries else tile.path()) != path:
        raise MalformedTilePath(f"not the canonical tile path: {path[:80]!r}")
    return tile, entries


def width_at(level: int, index: int, tree_size: int) -> int:
    """How many hashes tile (level, index) has in a tree of ``tree_size`` leaves (0: none)."""
    full = tree_size >> (TILE_HEIGHT * (level + 1))
    if index < full:
        return TILE_WIDTH
    if index == full:
        return (tree_size >> (TILE_HEIGHT * level)) % TILE_WIDTH
    return 0


def new_tiles(old_size: int, new_size: int) -> list[Tile]:
    """The tiles a tree grown from ``old_size`` to ``new_size`` adds: full tiles completed on
    the way and the partial tile of each level at ``new_size`` (unless unchanged), lowest level
    first. ``new_tiles(0, n)`` is every tile a checkpoint of size n needs served."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot grow a tree from {old_size} to {new_size}")
    tiles: list[Tile] = []
    level = 0
    while new_size >> (TILE_HEIGHT * level):
        above = TILE_HEIGHT * (level + 1)
        first, last = old_size >> above, new_size >> above
        tiles.extend(Tile(level, index) for index in range(first, last))
        width = (new_size >> (TILE_HEIGHT * level)) % TILE_WIDTH
        if width and old_size >> (TILE_HEIGHT * level) != new_size >> (TILE_HEIGHT * level):
            tiles.append(Tile(level, last, width))
        level += 1
    return tiles


def new_bundles(old_size: int, new_size: int) -> list[Tile]:
    """The entry bundles (as level-0 coordinates) a tree grown from old to new size adds."""
    return [tile for tile in new_tiles(old_size, new_size) if tile.level == 0]


def tile_data(tile: Tile, nodes: NodeSource) -> bytes:
    """The tile's bytes: its hashes concatenated, read from the tree's stored perfect nodes.

    Raises TileUnavailable when the source lacks a node (the tree is not that big)."""
    try:
        if isinstance(nodes, NodeRangeSource):
            hashes = list(nodes.perfect_nodes(tile.node_level, tile.first_node, tile.width))
        else:
            hashes = [nodes.perfect_node(tile.node_level, tile.first_node + i) for i in range(tile.width)]
    except KeyError as exc:
        raise TileUnavailable(f"{tile.path()}: missing node {exc}") from None
    if len(hashes) != tile.width or any(len(h) != HASH_SIZE for h in hashes):
        raise TileUnavailable(f"{tile.path()}: the node source returned malformed hashes")
    return b"".join(hashes)


def tile_for_tree(tile: Tile, nodes: NodeSource, tree_size: int) -> bytes:
    """A tile as served for a published tree of ``tree_size`` leaves: refused (TileUnavailable)
    unless that tree holds every hash in it, so a server never leaks unpublished leaves."""
    if tile.width > width_at(tile.level, tile.index, tree_size):
        raise TileUnavailable(f"{tile.path()} is not part of the tree of size {tree_size}")
    return tile_data(tile, nodes)


def entry_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries, each as a big-endian uint16 length then its bytes (at most 256 entries)."""
    out = bytearray()
    count = 0
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise EntryTooLarge(f"an entry of {len(entry)} bytes does not fit a bundle (max {MAX_ENTRY_BYTES})")
        out += len(entry).to_bytes(2, "big") + entry
        count += 1
    if not 1 <= count <= TILE_WIDTH:
        raise ValueError(f"an entry bundle holds 1..{TILE_WIDTH} entries, got {count}")
    return bytes(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; ValueError if the bytes are not exactly length-prefixed entries."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("truncated entry length")
        length = int.from_bytes(data[at : at + 2], "big")
        at += 2
        if at + length > len(data):
            raise ValueError("truncated entry")
        entries.append(data[at : at + length])
        at += length
        if len(entries) > TILE_WIDTH:
            raise ValueError(f"more than {TILE_WIDTH} entries in a bundle")
    return entries
