"""The identity read model's tables. Their schema is owned by the alembic migrations beside them."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

metadata = MetaData()

principals = Table(
    "identity_principals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("department", String(64), index=True),
    Column("roles", Text, nullable=False),
    Column("registered_height", Integer, nullable=False),
    Column("updated_height", Integer, nullable=False),
)

keys = Table(
    "identity_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),
    Column("public_key", String(130), nullable=False),  # 64 hex digits (Ed25519) or 130 (SM2, gm chains)
    Column("added_height", Integer, nullable=False),
    Column("revoked_height", Integer),
    Column("revocation_reason", String(200)),
    Column("valid_until", Integer, index=True),
    Column("purpose", String(32)),  # "credentials": signs W3C credentials only; null for event keys
)

# The time of the block at a rotated-out key's ``valid_until`` height: a credential has a
# time, not a height, so one issued after this time cannot have been issued with the key.
key_retirements = Table(
    "identity_key_retirements",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("height", Integer, nullable=False),
    Column("time", String(40), nullable=False),
)

credential_revocations = Table(
    "identity_credential_revocations",
    metadata,
    Column("credential_id", String(256), primary_key=True),
    Column("issuer", String(64), primary_key=True),
    Column("reason", String(200), nullable=False),
    Column("height", Integer, nullable=False),
    Column("event_id", String(64), nullable=False),
)
