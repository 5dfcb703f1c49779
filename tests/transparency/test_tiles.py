"""c2sp.org/tlog-tiles: paths, tile bytes, entry bundles, and an independent client that
fetches what we publish over HTTP and checks proofs with its own code."""

from __future__ import annotations

import functools
import http.server
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from govchain.protocol.merkle import consistency_proof, inclusion_proof, leaf_hash
from govchain.transparency.errors import EntryTooLarge, MalformedTilePath, TileUnavailable
from govchain.transparency.tiles import (
    Tile,
    encode_index,
    entry_bundle,
    new_bundles,
    new_tiles,
    parse_entry_bundle,
    parse_tile_path,
    tile_data,
    tile_for_tree,
    width_at,
)
from govchain.transparency.tilestore import ForkedTile, StaticLogWriter

from . import independent_note, tlog_client
from .conftest import VECTORS, Log


def test_index_encoding_matches_the_spec_and_go() -> None:
    for index, path in VECTORS["c2sp_tlog_tiles"]["index_examples"].items():
        assert encode_index(int(index)) == path
    for path, index in VECTORS["go_sumdb_tlog_tile_paths"]["index_elements"].items():
        assert encode_index(index) == path
        assert tlog_client.index_path(index) == path
    assert encode_index(0) == "000" and encode_index(999) == "999" and encode_index(1000) == "x001/000"


@pytest.mark.parametrize(
    ("path", "tile", "entries"),
    [
        ("tile/0/000", Tile(0, 0), False),
        ("tile/0/x001/x234/067", Tile(0, 1234067), False),
        ("tile/2/000.p/1", Tile(2, 0, 1), False),
        ("tile/1/x001/000.p/255", Tile(1, 1000, 255), False),
        ("tile/63/000", Tile(63, 0), False),
        ("tile/entries/273.p/112", Tile(0, 273, 112), True),
        ("tile/entries/x123/x456/078", Tile(0, 123456078), True),
    ],
)
def test_paths_round_trip(path: str, tile: Tile, entries: bool) -> None:
    assert parse_tile_path(path) == (tile, entries)
    assert (tile.entries_path() if entries else tile.path()) == path


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/123/456/078",  # Go's non-canonical example: elements without x
        "tile/0/x000/001",  # superfluous leading element
        "tile/0/01",
        "tile/0/0001",
        "tile/00/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/05",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/entries/000.p/x",
        "tile/data/000",
        "tile/0/x1/000",
        "tiles/0/000",
        "tile/0/",
        "tile/0/000/",
        "tile/0/" + "x000/" * 100 + "000",
    ],
)
def test_non_canonical_or_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(MalformedTilePath):
        parse_tile_path(path)


def test_the_spec_s_70000_and_256_leaf_examples() -> None:
    spec = VECTORS["c2sp_tlog_tiles"]
    tiles = new_tiles(0, 70_000)
    full0 = [t for t in tiles if t.level == 0 and t.is_full]
    assert len(full0) == spec["size_70000"]["full_level0"]
    assert [t.width for t in tiles if not t.is_full] == [
        spec["size_70000"]["partial_level0_width"],
        spec["size_70000"]["partial_level1_width"],
        spec["size_70000"]["partial_level2_width"],
    ]
    assert len([t for t in tiles if t.level == 1 and t.is_full]) == spec["size_70000"]["full_level1"]
    assert new_tiles(0, 256) == [Tile(0, 0), Tile(1, 0, spec["size_256"]["partial_level1_width"])]


def test_growing_adds_completed_tiles_and_new_partials_only() -> None:
    assert new_tiles(5, 5) == []
    assert new_tiles(300, 301) == [Tile(0, 1, 45)]  # the level-1 tile is still one hash wide
    assert new_tiles(255, 256) == [Tile(0, 0), Tile(1, 0, 1)]
    grown: set[Tile] = set()
    sizes = [0, 1, 255, 256, 257, 1000, 65_536, 70_000]
    for old, new in itertools.pairwise(sizes):
        grown.update(new_tiles(old, new))
    assert {t for t in new_tiles(0, 70_000) if t.is_full} <= grown
    assert new_bundles(0, 70_000) == [t for t in new_tiles(0, 70_000) if t.level == 0]


def test_width_at_follows_the_spec_formula() -> None:
    for size in (0, 1, 255, 256, 257, 65_535, 65_536, 70_000):
        for level in range(3):
            span = 256 ** (level + 1)
            assert width_at(level, size // span, size) == (size // 256**level) % 256
            if size >= span:
                assert width_at(level, size // span - 1, size) == 256


def test_tile_bytes_are_the_level_8l_subtree_hashes(log: Log) -> None:
    log.grow_to(70_000)
    level0 = tile_data(Tile(0, 3), log.tree)
    assert level0 == b"".join(leaf_hash(log.leaves[768 + i]) for i in range(256))
    level1 = tile_for_tree(Tile(1, 0, 17), log.tree, 70_000)
    assert level1[32:64] == log.tree.perfect_node(8, 1)
    assert tile_for_tree(Tile(2, 0, 1), log.tree, 70_000) == log.tree.perfect_node(16, 0)
    with pytest.raises(TileUnavailable):
        tile_for_tree(Tile(0, 273, 113), log.tree, 70_000)  # beyond the published size
    with pytest.raises(TileUnavailable):
        tile_for_tree(Tile(2, 0, 2), log.tree, 70_000)
    with pytest.raises(TileUnavailable):
        tile_data(Tile(0, 274), log.tree)


def test_entry_bundles_round_trip_and_refuse_what_a_uint16_cannot_say() -> None:
    entries = [b"", b"a", b"\x00" * 0xFFFF]
    bundle = entry_bundle(entries)
    assert bundle[:5] == b"\x00\x00\x00\x01a"
    assert parse_entry_bundle(bundle) == entries
    with pytest.raises(EntryTooLarge):
        entry_bundle([b"\x00" * 0x10000])
    with pytest.raises(ValueError):
        entry_bundle([])
    with pytest.raises(ValueError):
        parse_entry_bundle(b"\x00\x05abc")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain static web server over a folder: the log needs nothing more to be served."""
    root = tmp_path / "log"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("sizes", [[1], [255], [256], [257], [100, 255, 256, 257], [1, 40_000, 65_536, 70_001]])
def test_independent_client_verifies_proofs_from_published_tiles(
    log: Log, served: tuple[Path, str], sizes: list[int]
) -> None:
    root, url = served
    writer = StaticLogWriter(root)
    published = 0
    for size in sizes:
        log.grow_to(size)
        writer.publish(log.tree, published, size, log.signed(size), entries=lambda a, b: log.leaves[a:b])
        published = size
    fetch = tlog_client.http_fetcher(url)
    size = sizes[-1]

    text = independent_note.verify_log_signature(fetch("checkpoint"), log.vkey)
    origin, signed_size, signed_root, _ = independent_note.read_checkpoint(text)
    assert (origin, signed_size) == (log.origin, size)
    tree = tlog_client.TiledTree(fetch, size)
    assert tree.root() == signed_root

    for index in sorted({0, size // 3, size - 1}):
        bundle = tree.entries(index // 256)
        leaf = tlog_client.leaf(bundle[index % 256])
        assert leaf == tree.perfect(0, index)
        proof = tree.inclusion_proof(index)
        assert proof == inclusion_proof(index, size, log.tree)
        assert tlog_client.root_from_inclusion(index, size, leaf, proof) == signed_root
        if proof:
            tampered = [bytes(32), *proof[1:]]
            assert tlog_client.root_from_inclusion(index, size, leaf, tampered) != signed_root

    for earlier in sizes[:-1]:  # the partial tiles of earlier checkpoints are still served
        assert tlog_client.TiledTree(fetch, earlier).root() == log.checkpoint(earlier).root

    for old in sorted({0, 1, *sizes[:-1], size // 2, size - 1, size}):
        old_root = tree.mth(0, old)
        proof = tree.consistency_proof(old)
        assert proof == consistency_proof(old, size, log.tree)
        assert tlog_client.consistent(old, size, old_root, signed_root, proof)
        if proof:
            assert not tlog_client.consistent(old, size, old_root, signed_root, proof[:-1])
            assert not tlog_client.consistent(old, size, bytes(32), signed_root, proof)


def test_every_level0_hash_matches_its_entry(log: Log, served: tuple[Path, str]) -> None:
    root, url = served
    log.grow_to(600)
    StaticLogWriter(root).publish(log.tree, 0, 600, log.signed(), entries=lambda a, b: log.leaves[a:b])
    tree = tlog_client.TiledTree(tlog_client.http_fetcher(url), 600)
    for index in range(3):
        entries = tree.entries(index)
        assert [tlog_client.leaf(e) for e in entries] == [tree.perfect(0, index * 256 + i) for i in range(len(entries))]


def test_published_files_are_private_and_a_fork_stops_the_writer(log: Log, tmp_path: Path) -> None:
    root = tmp_path / "log"
    log.grow_to(300)
    written = StaticLogWriter(root).publish(log.tree, 0, 300, log.signed(), entries=lambda a, b: log.leaves[a:b])
    assert written[-1] == "checkpoint"
    assert {"tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1", "tile/entries/000"} <= set(written)
    for path in root.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0
    assert StaticLogWriter(root).write_tiles(log.tree, 0, 300) == []  # idempotent

    fork = Log(origin=log.origin, key=log.key)
    fork.grow_to(300, seed=b"fork")
    with pytest.raises(ForkedTile):
        StaticLogWriter(root).publish(fork.tree, 0, 300, fork.signed())


def test_a_source_that_reads_ranges_is_asked_once_per_tile(log: Log) -> None:
    """A database-backed source (the ledger's) can offer ``perfect_nodes`` for one range scan."""
    log.grow_to(600)
    calls: list[tuple[int, int, int]] = []

    class Ranged:
        def perfect_node(self, level: int, index: int) -> bytes:
            raise AssertionError("read one by one")

        def perfect_nodes(self, level: int, start: int, count: int) -> list[bytes]:
            calls.append((level, start, count))
            return [log.tree.perfect_node(level, start + i) for i in range(count)]

    assert tile_data(Tile(0, 2, 88), Ranged()) == tile_data(Tile(0, 2, 88), log.tree)
    assert calls == [(0, 512, 88)]
