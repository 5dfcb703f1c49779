"""department event ids: the directory's answers carry the proof of each registration

Every other registry row keeps the ids of the events it rests on, so a query can attach
their inclusion proofs; the department directory kept only the height. Rows written before
this migration have no event id: the directory names them under ``unproven`` in an answer
with proofs, until the projection is rebuilt from the chain.

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
    with op.batch_alter_table("registry_departments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "event_id",
                sa.String(length=64),
                nullable=True,
                comment="the department.registered event; NULL in rows from before 0002",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("registry_departments", schema=None) as batch_op:
        batch_op.drop_column("event_id")
