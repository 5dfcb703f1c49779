"""Schema migrations with alembic: each service's store carries its own migration scripts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text

from govchain.protocol.errors import GovChainError


class SchemaMismatch(GovChainError):
    """A table that a first migration would adopt exists but lacks columns it needs."""


def alembic_config(scripts: Path, engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("version_table", f"alembic_version_{scripts.parent.name}")
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade_to_head(engine: Engine, scripts: Path, *, attributes: Mapping[str, Any] | None = None) -> None:
    """Bring the store's schema up to the newest migration (idempotent; runs at service start).

    ``attributes`` reach the migration scripts as ``alembic.context.config.attributes`` (the
    key vault passes its KEK, so that the migration can wrap the keys it moves)."""
    config = alembic_config(scripts)
    config.attributes.update(attributes or {})
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Services sharing one database start together and would race to create the same
            # tables (the shared checkpoint table above all): one migrates, the others wait
            # for its commit and then find nothing to do. The lock ends with the transaction.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:name))"),
                {"name": config.get_main_option("version_table")},
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def adopt_existing_table(name: str, columns: Iterable[str]) -> bool:
    """In a first migration: True if ``name`` already exists (made by ``create_all`` before the
    table was under alembic), after checking it has ``columns``; the migration then leaves it
    as it is and alembic only stamps the revision. False: the migration must create it."""
    inspector = inspect(op.get_bind())
    if not inspector.has_table(name):
        return False
    present = {column["name"] for column in inspector.get_columns(name)}
    missing = [column for column in columns if column not in present]
    if missing:
        raise SchemaMismatch(f"table {name} exists without columns {', '.join(missing)}: it was not made by GovChain")
    return True


def run_migrations(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``: migrate the connection we were given
    (or, from the alembic command line, the URL in ``sqlalchemy.url``)."""
    config = context.config
    version_table = config.get_main_option("version_table") or "alembic_version"
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, metadata, version_table)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as own:
        _migrate(own, metadata, version_table)


def _migrate(connection: Connection, metadata: MetaData, version_table: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=True,  # SQLite alters tables by copying them
        include_name=lambda name, type_, _: type_ != "table" or name in metadata.tables,
    )
    with context.begin_transaction():
        context.run_migrations()
