"""Alembic environment of the identity store."""

from govchain.services.identity.tables import metadata
from govchain.storage.migrations import run_migrations

run_migrations(metadata)
