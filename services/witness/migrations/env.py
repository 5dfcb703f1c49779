"""Alembic environment of the witness store."""

from govchain.services.witness.store import metadata
from govchain.storage.migrations import run_migrations

run_migrations(metadata)
