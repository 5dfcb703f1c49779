"""witness state: latest cosigned checkpoint per log, and refused inconsistent checkpoints

Revision ID: 0001
Revises:
Create Date: 2026-12-01 09:00:00.000000
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
        "witness_logs",
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("origin"),
    )
    op.create_table(
        "witness_refusals",
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("checkpoint", sa.LargeBinary(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("body_sha256"),
    )
    with op.batch_alter_table("witness_refusals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_witness_refusals_origin"), ["origin"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("witness_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_witness_refusals_origin"))

    op.drop_table("witness_refusals")
    op.drop_table("witness_logs")
