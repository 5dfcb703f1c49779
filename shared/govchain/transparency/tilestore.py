"""A tiled log on disk: tiles, entry bundles and the checkpoint written as static files, so any
web server or CDN can serve the log (c2sp.org/tlog-tiles) with GovChain out of the loop.

Order matters for a reader: every tile and bundle of a tree size is durable before the
checkpoint naming that size replaces the old one. Tiles are immutable: finding one on disk with
other bytes means the log forked, and the writer stops rather than overwrite history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from govchain.privatefiles import fsync_folder, private_folder, write_private_durably
from govchain.protocol.merkle import NodeSource
from govchain.transparency.errors import TransparencyError
from govchain.transparency.tiles import entry_bundle, new_bundles, new_tiles, tile_data

CHECKPOINT_PATH = "checkpoint"

EntryReader = Callable[[int, int], Sequence[bytes]]
"""``read(start, end)``: the log's leaf bytes for indices [start, end), in order."""


class ForkedTile(TransparencyError):
    """A tile or bundle already on disk differs from the one computed now: the log forked."""


class StaticLogWriter:
    """Writes a log's tiles under ``root`` (the URL prefix's folder); files 0600 in 0700 folders,
    like everything the platform writes (serve them with a process of the same user)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def publish(
        self,
        nodes: NodeSource,
        old_size: int,
        new_size: int,
        checkpoint_note: bytes,
        entries: EntryReader | None = None,
    ) -> list[str]:
        """Write what growing the tree from ``old_size`` to ``new_size`` adds, then the signed
        checkpoint for ``new_size``; return the paths written (checkpoint last)."""
        written = self.write_tiles(nodes, old_size, new_size)
        if entries is not None:
            written += self.write_bundles(entries, old_size, new_size)
        self.write_file(CHECKPOINT_PATH, checkpoint_note)
        return [*written, CHECKPOINT_PATH]

    def write_tiles(self, nodes: NodeSource, old_size: int, new_size: int) -> list[str]:
        written = []
        for tile in new_tiles(old_size, new_size):
            if self._write_immutable(tile.path(), tile_data(tile, nodes)):
                written.append(tile.path())
        return written

    def write_bundles(self, entries: EntryReader, old_size: int, new_size: int) -> list[str]:
        written = []
        for tile in new_bundles(old_size, new_size):
            start = tile.first_node
            leaves = entries(start, start + tile.width)
            if len(leaves) != tile.width:
                raise ValueError(f"asked for {tile.width} entries from {start}, got {len(leaves)}")
            if self._write_immutable(tile.entries_path(), entry_bundle(leaves)):
                written.append(tile.entries_path())
        return written

    def write_file(self, relative: str, data: bytes) -> None:
        """Write one file atomically and durably (temporary file, fsync, rename, fsync folder)."""
        folder = private_folder(self.root)
        for part in Path(relative).parent.parts:
            child = folder / part
            if not child.is_dir():
                private_folder(child)
                fsync_folder(folder)  # the new folder's entry is data too
            folder = child
        write_private_durably(self.root / relative, data)

    def _write_immutable(self, relative: str, data: bytes) -> bool:
        """Tiles and bundles never change once written (a partial one's path names its width):
        equal bytes are left alone, other bytes mean two trees under one log."""
        path = self.root / relative
        if path.exists():
            if path.read_bytes() == data:
                return False
            raise ForkedTile(f"{relative} on disk differs from the tree being published")
        self.write_file(relative, data)
        return True
