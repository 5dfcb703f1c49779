"""keys of a gm chain, and credential-only keys

A gm (国密) chain's public keys are 65-byte SM2 points, 130 hex digits, so ``public_key``
widens from 64 characters to 130 (SQLite never enforced the length; PostgreSQL does). A key
added with ``purpose: "credentials"`` signs W3C credentials only, never an event; ``purpose``
is null for every other key, as for every key this table held before.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "public_key", existing_type=sa.String(length=64), type_=sa.String(length=130), existing_nullable=False
        )
        batch_op.add_column(sa.Column("purpose", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.drop_column("purpose")
        batch_op.alter_column(
            "public_key", existing_type=sa.String(length=130), type_=sa.String(length=64), existing_nullable=False
        )
