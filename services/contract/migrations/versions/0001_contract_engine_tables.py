"""contract engine tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:59:58.107635
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
        "contract_case_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("case_key", sa.String(length=128), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("failed", sa.Text(), nullable=True),
        sa.Column("trigger_event_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contract_case_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_case_history_case_key"), ["case_key"], unique=False)

    op.create_table(
        "contract_cases",
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("case_key", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("vars", sa.Text(), nullable=False),
        sa.Column("entered_at", sa.String(length=40), nullable=False),
        sa.Column("updated_height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "case_key"),
    )
    with op.batch_alter_table("contract_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_cases_state"), ["state"], unique=False)

    op.create_table(
        "contract_definitions",
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("deployed_height", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "version"),
    )
    op.create_table(
        "contract_outbox",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.Column("contract_id", sa.String(length=64), nullable=False),
        sa.Column("case_key", sa.String(length=128), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("contract_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_outbox_height"), ["height"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contract_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_outbox_height"))

    op.drop_table("contract_outbox")
    op.drop_table("contract_definitions")
    with op.batch_alter_table("contract_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_cases_state"))

    op.drop_table("contract_cases")
    with op.batch_alter_table("contract_case_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_case_history_case_key"))

    op.drop_table("contract_case_history")
