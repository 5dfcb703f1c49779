"""Alembic environment of the checkpoint table shared by every store."""

from govchain.projection.checkpoint import metadata
from govchain.storage.migrations import run_migrations

run_migrations(metadata)
