"""Alembic environment of the ledger store."""

from govchain.services.ledger.store import metadata
from govchain.storage.migrations import run_migrations

run_migrations(metadata)
