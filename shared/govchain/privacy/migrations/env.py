"""Alembic environment of the key vault."""

from govchain.privacy.vault import vault_metadata
from govchain.storage.migrations import run_migrations

run_migrations(vault_metadata)
