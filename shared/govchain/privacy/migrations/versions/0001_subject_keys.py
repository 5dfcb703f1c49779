"""key vault table, created only where it is missing

Before this migration the vault made its table with ``metadata.create_all`` when it
opened, so a database made then already holds it (with the same columns): there it is kept
as it is, keys and tombstones alike, and only stamped. Everywhere else it is created here.

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

COLUMNS = ("subject", "key_version", "data_key", "created_at", "erased_at", "erasure_reason")


def upgrade() -> None:
    if adopt_existing_table("privacy_subject_keys", COLUMNS):
        return
    op.create_table(
        "privacy_subject_keys",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("data_key", sa.LargeBinary(), nullable=True, comment="NULL once erased"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erasure_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("subject"),
    )


def downgrade() -> None:
    op.drop_table("privacy_subject_keys")
