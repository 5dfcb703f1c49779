"""key retirements: the block time at which a rotated-out key stopped signing

Credentials carry a time, not a height; judging one issued with a rotated-out key needs
the time of the block at the key's ``valid_until`` height. Keys already past it when this
migration runs have no row, and credentials under them fail closed ("retirement time is not
known here") until the projection is rebuilt from the chain.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_key_retirements",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_keys_valid_until"), ["valid_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("identity_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_keys_valid_until"))
    op.drop_table("identity_key_retirements")
