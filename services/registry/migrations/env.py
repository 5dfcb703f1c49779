"""Alembic environment of the registry store."""

from govchain.services.registry.tables import metadata
from govchain.storage.migrations import run_migrations

run_migrations(metadata)
