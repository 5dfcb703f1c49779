"""Alembic environment of the registry store (run by govchain.storage.migrations)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from govchain.services.registry.tables import metadata

config = context.config


def run() -> None:
    version_table = config.get_main_option("version_table") or "alembic_version"
    connection = config.attributes.get("connection")
    if connection is None:  # the alembic command line: a URL in sqlalchemy.url
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as connection:
            _migrate(connection, version_table)
        return
    _migrate(connection, version_table)


def _migrate(connection: object, version_table: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


run()
