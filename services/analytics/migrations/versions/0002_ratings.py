"""ratings of service cases, and the applicant of each case

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 04:05:00

Cases opened before this migration have no applicant: ratings of them are void
(``unknown_applicant``) until the projection is rebuilt from the chain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "applicant",
                sa.String(length=64),
                nullable=True,
                comment="whom the case is for (a pseudonym); the only one who may rate it",
            )
        )
    op.create_table(
        "analytics_ratings",
        sa.Column("event_id", sa.String(length=128), nullable=False, comment="the case.rated event, source/id"),
        sa.Column("service_type", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column(
            "department", sa.String(length=64), nullable=True, comment="the rated case's department; NULL when unknown"
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("has_comment", sa.Boolean(), nullable=False),
        sa.Column("rated_at", sa.String(length=40), nullable=False, comment="block time of the rating"),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column(
            "void_reason",
            sa.String(length=300),
            nullable=True,
            comment="why the rating does not count; NULL when it counts",
        ),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("analytics_ratings", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_ratings_case", ["service_type", "case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analytics_ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_ratings_case")
    op.drop_table("analytics_ratings")
    with op.batch_alter_table("analytics_cases", schema=None) as batch_op:
        batch_op.drop_column("applicant")
