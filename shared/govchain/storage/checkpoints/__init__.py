"""Alembic scripts of the checkpoint table (``govchain_checkpoints``), which every store shares.

The table itself is defined in :mod:`govchain.projection.checkpoint`; its scripts live here,
beside the migration machinery, so that every store (ledger, registry, identity, contract,
analytics) upgrades it the same way it upgrades its own tables.
"""
