"""Alembic environment of the analytics store."""

from govchain.services.analytics.tables import metadata
from govchain.storage.migrations import run_migrations

run_migrations(metadata)
