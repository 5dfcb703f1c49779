"""The checkpoint table and the key vault's table under alembic, on SQLite and PostgreSQL.

Both used to be made by ``metadata.create_all``; a database made that way must upgrade in
place (its rows kept, the revision stamped), and a new one must get the same schema.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
)

from govchain.privacy.kek import Kek
from govchain.privacy.vault import KeyVault, vault_metadata
from govchain.projection.checkpoint import checkpoints, prepare_checkpoints
from govchain.projection.checkpoint import metadata as checkpoint_metadata
from govchain.services.ledger.store import LedgerStore
from govchain.storage.engine import make_engine
from govchain.storage.migrations import SchemaMismatch

ADA = "c-" + "a1" * 16
PRIVACY_HEAD = "0002"

# The vault's table as the old create_all made it (revision 0001): data keys in clear.
legacy_vault_metadata = MetaData()
legacy_subject_keys = Table(
    "privacy_subject_keys",
    legacy_vault_metadata,
    Column("subject", String(64), primary_key=True),
    Column("key_version", Integer, nullable=False),
    Column("data_key", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("erasure_reason", Text, nullable=True),
)
CHECKPOINT_ROW = {
    "name": "registry",
    "height": 7,
    "block_hash": "ab" * 32,
    "log_size": 12,
    "log_json": "[]",
    "state_json": "{}",
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def revision(engine: Engine, version_table: str) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(version_table):
            return None
        return conn.execute(text(f"SELECT version_num FROM {version_table}")).scalar_one_or_none()


def schema_drift(engine: Engine, metadata: MetaData) -> list[object]:
    """What alembic's autogenerate would still change to make the database match the models."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, type_, _: type_ != "table" or name in metadata.tables,
            },
        )
        return list(compare_metadata(context, metadata))


def test_a_new_database_gets_both_tables_from_alembic(engine: Engine) -> None:
    prepare_checkpoints(engine)
    KeyVault(engine)
    assert revision(engine, "alembic_version_checkpoints") == "0001"
    assert revision(engine, "alembic_version_privacy") == PRIVACY_HEAD
    assert schema_drift(engine, checkpoint_metadata) == []
    assert schema_drift(engine, vault_metadata) == []


def test_a_database_made_by_the_old_create_all_upgrades_in_place(engine: Engine) -> None:
    checkpoint_metadata.create_all(engine)  # what the runner, the ledger store and the vault did before
    legacy_vault_metadata.create_all(engine)
    created = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(checkpoints).values(**CHECKPOINT_ROW))
        conn.execute(
            insert(legacy_subject_keys).values(subject=ADA, key_version=1, data_key=b"k" * 32, created_at=created)
        )
    assert revision(engine, "alembic_version_checkpoints") is None

    prepare_checkpoints(engine)
    kek = Kek.generate()
    vault = KeyVault(engine, kek)  # 0002 wraps the clear key under the KEK
    assert revision(engine, "alembic_version_checkpoints") == "0001"
    assert revision(engine, "alembic_version_privacy") == PRIVACY_HEAD
    with engine.connect() as conn:
        assert dict(conn.execute(select(checkpoints)).one()._mapping) == CHECKPOINT_ROW
    assert vault.key_for_opening(ADA, 1) == b"k" * 32  # the key made before the upgrade still opens
    assert schema_drift(engine, checkpoint_metadata) == []
    assert schema_drift(engine, vault_metadata) == []

    prepare_checkpoints(engine)  # every later start: nothing to do
    KeyVault(engine, kek)
    assert revision(engine, "alembic_version_checkpoints") == "0001"


def test_an_old_ledger_store_opens_with_its_checkpoint(engine: Engine) -> None:
    """The ledger's tables were already under alembic, its checkpoint table was not."""
    LedgerStore(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version_checkpoints"))  # as the old code left it
        conn.execute(insert(checkpoints).values(**{**CHECKPOINT_ROW, "name": "other"}))
    LedgerStore(engine)
    assert revision(engine, "alembic_version_checkpoints") == "0001"
    with engine.connect() as conn:
        assert conn.execute(select(checkpoints.c.name)).scalars().all() == ["other"]


def test_a_foreign_table_of_the_same_name_is_refused_not_adopted(engine: Engine) -> None:
    foreign = MetaData()
    Table("govchain_checkpoints", foreign, Column("name", String(64), primary_key=True), Column("n", Integer))
    foreign.create_all(engine)
    with pytest.raises(SchemaMismatch, match="height"):
        prepare_checkpoints(engine)
    assert revision(engine, "alembic_version_checkpoints") is None  # nothing stamped


STARTUP = """
import sys
from govchain.privacy.vault import KeyVault
from govchain.projection.checkpoint import prepare_checkpoints
from govchain.storage.engine import make_engine
engine = make_engine(sys.argv[1])
prepare_checkpoints(engine)
KeyVault(engine)
"""


@pytest.mark.postgres
def test_services_starting_together_on_postgres_migrate_once(db_url: str) -> None:
    """Services sharing one PostgreSQL database start at once (separate processes: alembic's
    context is process-global); each migrates or waits for the one that does, none fails."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite databases are one per service")
    starts = [
        subprocess.Popen([sys.executable, "-c", STARTUP, db_url], stderr=subprocess.PIPE, text=True) for _ in range(4)
    ]
    failures = [err for proc in starts if (err := proc.communicate(timeout=120)[1]) and proc.returncode != 0]
    assert failures == []
    engine = make_engine(db_url)
    try:
        assert revision(engine, "alembic_version_checkpoints") == "0001"
        assert revision(engine, "alembic_version_privacy") == PRIVACY_HEAD
    finally:
        engine.dispose()
