"""Alembic scripts of the key vault's table (``privacy_subject_keys``)."""
