"""``govchain vault``: the key vault's key-encryption key (KEK), kept outside its database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from govchain.datadir import DataDir
from govchain.protocol.errors import GovChainError
from govchain.services.cli.common import DATA_OPTION, JSON_OPTION, emit, fail, settings_from

if TYPE_CHECKING:
    from sqlalchemy import Engine

vault_app = typer.Typer(
    help="The key vault: each person's data key, wrapped by a key-encryption key (KEK) kept in keys/vault.kek.",
    no_args_is_help=True,
)


def _engine(url: str) -> Engine:
    """The registry's database. SQLAlchemy and alembic are imported by the vault commands alone:
    at module level they would add a quarter of a second to the start of every ``govchain``
    command."""
    from govchain.storage.engine import make_engine

    return make_engine(url)


@vault_app.command("rotate-kek")
def rotate(data: Path = DATA_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Re-wrap every live data key under a new KEK and destroy the old KEK, so that copies of
    the vault (backups, replicas, WAL) taken before now open for nobody, erased keys included.

    Run it with the platform stopped (it refuses while `govchain up` runs on this folder; in a
    deployment, stop the registry service first). Safe to interrupt: the next start finishes
    or undoes it. Backups of keys/ taken before the rotation still hold the old KEK."""
    settings = settings_from(data)
    node = DataDir(settings.data_dir)
    if settings.vault_kek is not None:
        fail("the vault KEK comes from GOVCHAIN_VAULT_KEK (a secret store): rotate it there, not here")
    if not node.is_initialised():
        fail(f"{settings.data_dir} holds no chain: run `govchain init --data {settings.data_dir}`")
    pid = node.running_pid()
    if pid is not None:
        fail(f"the platform is running on {settings.data_dir} (pid {pid}): stop it, then rotate the KEK")
    from govchain.privacy.rotation import rotate_kek  # see _engine

    engine = _engine(settings.database_url_for("registry"))
    try:
        done = rotate_kek(engine, node.vault_kek_files)
    except GovChainError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    emit(
        {"old_kek_id": done.old_kek_id, "new_kek_id": done.new_kek_id, "rewrapped": done.rewrapped},
        as_json,
        f"vault KEK rotated: {done.old_kek_id} → {done.new_kek_id}; {done.rewrapped} live keys re-wrapped, "
        "old KEK destroyed",
    )


@vault_app.command("status")
def status(data: Path = DATA_OPTION, as_json: bool = JSON_OPTION) -> None:
    """The KEK's id, how many live keys it wraps and how many subjects are erased (no key material)."""
    settings = settings_from(data)
    from govchain.privacy.custody import open_vault  # see _engine

    engine = _engine(settings.database_url_for("registry"))
    try:
        state = open_vault(engine, DataDir(settings.data_dir).keys, settings.vault_kek).status()
    except GovChainError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    emit(
        {"kek_id": state.kek_id, "live_keys": state.live_keys, "erased": state.erased},
        as_json,
        f"vault KEK {state.kek_id}: {state.live_keys} live keys, {state.erased} subjects erased",
    )
