"""KEK rotation: re-wrap every live data key under a new KEK, then destroy the old KEK, so
that every older copy of the wrapped keys (backups, replicas, WAL, dead rows) opens for
nobody, erased subjects' keys included.

Order, and why a ``kill -9`` anywhere leaves every live key readable:

1. the new KEK is written durably to ``keys/vault.kek.next`` (temporary file, fsync,
   rename, fsync folder): from here both KEKs are on disk;
2. every live key is re-wrapped in *one* transaction, committed durably
   (SQLite ``synchronous=FULL`` and a WAL checkpoint; PostgreSQL's commit): the database
   switches from the old KEK to the new one all at once;
3. ``vault.kek.next`` is renamed over ``vault.kek`` (atomic) and the old KEK's contents
   are overwritten through a descriptor opened before the rename.

Before step 2 commits the live keys are wrapped by the old KEK, afterwards by the new
one, and the file of each is kept until then. :func:`recover_rotation` (run whenever the
vault opens from a data folder) finishes or undoes an interrupted rotation by asking the
database which KEK its live keys use: the new one → promote it (step 3); the old one, or
no live keys → discard the next KEK, which wraps nothing.

A rotation needs the vault to itself: a registry running on the old KEK could create a key
wrapped by it after step 2, and that key would be lost with the old KEK. ``govchain vault
rotate-kek`` refuses while the platform is running; in a deployment stop the registry
service first. A KEK from ``GOVCHAIN_VAULT_KEK`` (a secret store) is not rotated here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine

from govchain.logs import get_logger
from govchain.privacy.kek import Kek
from govchain.privacy.kekfiles import KekFiles
from govchain.privacy.vault import KekMismatch, KeyVault, live_kek_ids

log = get_logger("govchain.privacy")

Step = Literal["next_staged", "next_written", "rewrapped", "committed", "switched", "done"]
"""Points of a rotation, in order, passed to ``on_step`` (crash tests stop the process there):
next KEK durable in its temporary file; renamed into place; keys re-wrapped but not yet
committed; committed; new KEK renamed over the old one, old contents not yet overwritten; done."""


@dataclass(frozen=True)
class Rotation:
    old_kek_id: str
    new_kek_id: str
    rewrapped: int


def recover_rotation(engine: Engine, files: KekFiles) -> Literal["completed", "undone"] | None:
    """Finish or undo a rotation a crash interrupted; None if there was none."""
    if not files.rotation_pending():
        return None
    if not files.next.exists():  # died while writing the next KEK: nothing used it
        files.discard_next()
        log.warning("vault KEK rotation was interrupted before its new KEK was written; undone")
        return "undone"
    in_use = live_kek_ids(engine)
    current, upcoming = files.load_current(), files.load_next()
    if in_use <= {upcoming.id} and in_use:
        files.promote_next()
        log.warning("vault KEK rotation was interrupted after its commit; completed", kek_id=upcoming.id)
        return "completed"
    if in_use <= {current.id}:
        files.discard_next()
        log.warning("vault KEK rotation was interrupted before its commit; undone", kek_id=current.id)
        return "undone"
    raise KekMismatch(
        f"the vault holds keys wrapped by KEK {', '.join(sorted(in_use))}; neither {files.current} "
        f"({current.id}) nor {files.next} ({upcoming.id}) wraps them all"
    )


def current_kek(engine: Engine, files: KekFiles) -> Kek:
    """The KEK in ``files`` for the vault in ``engine``, once any interrupted rotation is
    finished or undone. The first KEK is made only for a vault that holds no wrapped key: a
    missing file is otherwise a lost KEK, to be restored from backup, not replaced."""
    recover_rotation(engine, files)
    if not files.current.exists():
        in_use = live_kek_ids(engine)
        if in_use:
            raise KekMismatch(
                f"{files.current} is missing, and the vault holds keys wrapped by KEK {', '.join(sorted(in_use))}: "
                "restore that file from your backup"
            )
    return files.current_or_new()


def rotate_kek(engine: Engine, files: KekFiles, *, on_step: Callable[[Step], None] | None = None) -> Rotation:
    """Rotate the KEK of the vault in ``engine`` whose KEK files are ``files`` (see the module
    docstring for the order and its crash safety). The caller makes sure no registry runs."""
    step: Callable[[Step], None] = on_step or (lambda _: None)
    old = current_kek(engine, files)
    vault = KeyVault(engine, old)
    old_id = vault.kek_id
    assert old_id is not None
    new = Kek.generate(old.suite)  # the chain's AEAD, as the KEK it replaces
    files.stage_next(new, before_rename=lambda: step("next_staged"))
    step("next_written")
    rewrapped = vault.rewrap(new, before_commit=lambda: step("rewrapped"))
    step("committed")
    files.promote_next(after_switch=lambda: step("switched"))
    step("done")
    log.info("vault KEK rotated", old_kek_id=old_id, new_kek_id=new.id, rewrapped=rewrapped)
    return Rotation(old_id, new.id, rewrapped)
