"""trigger references: a case's history names its trigger as ``source/id``

Event ids are unique per source only (CloudEvents), so the engine names the event that
moved a case by ``source/id``, up to 128 characters. Rows written before keep bare ids.

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

COMMENT = "source/id of the triggering event (bare id before 0002)"


def upgrade() -> None:
    with op.batch_alter_table("contract_case_history", schema=None) as batch_op:
        batch_op.alter_column(
            "trigger_event_id",
            existing_type=sa.String(length=64),
            type_=sa.String(length=128),
            existing_nullable=True,
            comment=COMMENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("contract_case_history", schema=None) as batch_op:
        batch_op.alter_column(
            "trigger_event_id",
            existing_type=sa.String(length=128),
            type_=sa.String(length=64),
            existing_nullable=True,
            comment=None,
            existing_comment=COMMENT,
        )
