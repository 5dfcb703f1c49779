"""data sharing: approval rules of data sets, grants, and reads under grants

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_datasets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source",
                sa.String(length=16),
                nullable=True,
                comment="the register its records are read from under a grant; NULL: not readable",
            )
        )
        batch_op.add_column(
            sa.Column(
                "approvers",
                sa.Text(),
                nullable=True,
                comment="JSON list: whose approval a grant needs; NULL or []: the department alone",
            )
        )
        batch_op.add_column(
            sa.Column("required", sa.Integer(), nullable=True, comment="how many of approvers must approve; NULL: 1")
        )
    op.create_table(
        "registry_data_grants",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("grantee", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=300), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False, comment="JSON list of the granted fields"),
        sa.Column("approvals", sa.Text(), nullable=False, comment="JSON list of the departments that approved"),
        sa.Column(
            "expires_on", sa.String(length=10), nullable=False, comment="last day (UTC block time) reads are allowed"
        ),
        sa.Column("status", sa.String(length=16), nullable=False, comment="granted, or void (see void_reason)"),
        sa.Column("void_reason", sa.String(length=300), nullable=True),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("registry_data_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_data_grants_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registry_data_grants_grantee"), ["grantee"], unique=False)
    op.create_table(
        "registry_dataset_reads",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.Column("reader_department", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("registry_dataset_reads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_dataset_reads_request_id"), ["request_id"], unique=False)
    op.create_table(
        "registry_dataset_read_subjects",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "subject"),
    )
    with op.batch_alter_table("registry_dataset_read_subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_dataset_read_subjects_subject"), ["subject"], unique=False)


def downgrade() -> None:
    op.drop_table("registry_dataset_read_subjects")
    op.drop_table("registry_dataset_reads")
    op.drop_table("registry_data_grants")
    with op.batch_alter_table("registry_datasets", schema=None) as batch_op:
        batch_op.drop_column("required")
        batch_op.drop_column("approvers")
        batch_op.drop_column("source")
