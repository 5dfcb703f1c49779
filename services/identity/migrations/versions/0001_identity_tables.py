"""identity tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:49:41.740020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_credential_revocations",
        sa.Column("credential_id", sa.String(length=256), nullable=False),
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("credential_id", "issuer"),
    )
    op.create_table(
        "identity_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("added_height", sa.Integer(), nullable=False),
        sa.Column("revoked_height", sa.Integer(), nullable=True),
        sa.Column("revocation_reason", sa.String(length=200), nullable=True),
        sa.Column("valid_until", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_keys_owner"), ["owner"], unique=False)

    op.create_table(
        "identity_principals",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("registered_height", sa.Integer(), nullable=False),
        sa.Column("updated_height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_principals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_principals_department"), ["department"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identity_principals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_principals_department"))

    op.drop_table("identity_principals")
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_keys_owner"))

    op.drop_table("identity_keys")
    op.drop_table("identity_credential_revocations")
