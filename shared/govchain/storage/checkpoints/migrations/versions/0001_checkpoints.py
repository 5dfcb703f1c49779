"""checkpoint table, created only where it is missing

Before this migration the table was made by ``metadata.create_all`` at every start, so a
store made then already holds it (with the same columns): there it is kept as it is, rows
and all, and only stamped. Everywhere else it is created here.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from govchain.storage.migrations import adopt_existing_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

COLUMNS = ("name", "height", "block_hash", "log_size", "log_json", "state_json")


def upgrade() -> None:
    if adopt_existing_table("govchain_checkpoints", COLUMNS):
        return
    op.create_table(
        "govchain_checkpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=64), nullable=False),
        sa.Column("log_size", sa.Integer(), nullable=False),
        sa.Column("log_json", sa.Text(), nullable=False),
        sa.Column("state_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("govchain_checkpoints")
