"""the SHA-256 tree's nodes, kept beside the chain's own on a gm chain

A gm chain's event log is an SM3 tree; stock C2SP witnesses check RFC 6962 SHA-256 trees. The
ledger keeps a second tree over the same leaves and stores its perfect nodes here, as it stores
the chain's own in ``ledger_merkle_nodes``, for SHA-256 consistency proofs and tiles. On an intl
chain the table stays empty.

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
    op.create_table(
        "ledger_sha256_nodes",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )


def downgrade() -> None:
    op.drop_table("ledger_sha256_nodes")
