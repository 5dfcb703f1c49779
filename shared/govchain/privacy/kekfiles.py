"""The vault KEK's files in the data folder's ``keys/`` (0600, like the PEM keys).

``vault.kek`` holds the KEK in use (64 hex digits). A rotation first writes the next KEK
durably to ``vault.kek.next``, so that for as long as the database may still hold keys
wrapped by either, both files exist; only once the re-wrapped keys are committed does
``vault.kek.next`` replace ``vault.kek`` and the old KEK get overwritten. Which of two
files is the live one is decided by the database (see :mod:`govchain.privacy.rotation`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from govchain.crypto import INTL, CryptoSuite
from govchain.privacy.kek import Kek, KekError
from govchain.privatefiles import (
    fsync_folder,
    overwrite_open_file,
    private_folder,
    read_secret_file,
    shred_file,
    staging_path,
    write_private_durably,
)

CURRENT_NAME = "vault.kek"
NEXT_NAME = "vault.kek.next"


@dataclass(frozen=True)
class KekFiles:
    """The current and (during a rotation) the next KEK file in ``keys``."""

    keys: Path

    @property
    def current(self) -> Path:
        return self.keys / CURRENT_NAME

    @property
    def next(self) -> Path:
        return self.keys / NEXT_NAME

    def rotation_pending(self) -> bool:
        """A rotation was interrupted: the next KEK (or its temporary file) is still there."""
        return self.next.exists() or staging_path(self.next).exists()

    def load_current(self) -> Kek:
        return load_kek(self.current)

    def load_next(self) -> Kek:
        return load_kek(self.next)

    def create_current(self, suite: CryptoSuite = INTL) -> Kek:
        """Make the first KEK of a data folder, for the chain's ``suite`` (its AEAD); refuse if
        one exists (it may wrap live keys)."""
        if self.current.exists():
            raise KekError(f"{self.current} already exists; refusing to overwrite a KEK")
        private_folder(self.keys)
        kek = Kek.generate(suite)
        write_private_durably(self.current, (kek.hex() + "\n").encode())
        return kek

    def current_or_new(self) -> Kek:
        """The KEK in use; made on first use for a data folder from before the vault had one."""
        if not self.current.exists():
            return self.create_current()
        return self.load_current()

    def stage_next(self, kek: Kek, *, before_rename: Callable[[], None] | None = None) -> None:
        """Write ``kek`` durably as the next KEK (temporary file, fsync, rename, fsync folder)."""
        write_private_durably(self.next, (kek.hex() + "\n").encode(), before_rename=before_rename)

    def promote_next(self, *, after_switch: Callable[[], None] | None = None) -> None:
        """Make the next KEK the current one and destroy the old one.

        The old file is opened first and the next renamed over it in one atomic step (then
        the folder is fsynced), so there is never a moment without a usable current KEK;
        the old contents are then overwritten through the still-open descriptor (best
        effort, see :mod:`govchain.privatefiles`). ``after_switch`` runs between the two."""
        try:
            old: int | None = os.open(self.current, os.O_WRONLY)
        except FileNotFoundError:
            old = None
        try:
            os.replace(self.next, self.current)
            fsync_folder(self.keys)
            if after_switch is not None:
                after_switch()
            if old is not None:
                overwrite_open_file(old)
        finally:
            if old is not None:
                os.close(old)

    def discard_next(self) -> None:
        """Destroy a next KEK that wraps nothing (an interrupted rotation that did not commit)."""
        shred_file(staging_path(self.next))
        shred_file(self.next)


def load_kek(path: Path) -> Kek:
    """Read a KEK file; refuse one that group or others may read."""
    text = read_secret_file(path, what="vault KEK", error=KekError).decode("ascii", errors="replace")
    return Kek.from_hex(text, what=f"vault KEK {path}")
