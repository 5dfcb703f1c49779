"""Alembic environment of the contract engine's store."""

from govchain.services.contract.tables import metadata
from govchain.storage.migrations import run_migrations

run_migrations(metadata)
