"""registry tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25 13:38:59.287662
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
        "registry_access_log",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.Column("reader_department", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=300), nullable=False),
        sa.Column("record", sa.String(length=200), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("registry_access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_access_log_subject"), ["subject"], unique=False)

    op.create_table(
        "registry_businesses",
        sa.Column("business_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registration_no", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("activity", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column(
            "owner_details",
            sa.Text(),
            nullable=True,
            comment="sealed JSON (AES-GCM under the owner's data key) or NULL",
        ),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False, comment="JSON list of the events the row rests on"),
        sa.PrimaryKeyConstraint("business_id"),
    )
    with op.batch_alter_table("registry_businesses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_businesses_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_registry_businesses_owner"), ["owner"], unique=False)

    op.create_table(
        "registry_datasets",
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("access", sa.String(length=16), nullable=False),
        sa.Column("readers", sa.Text(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id"),
    )
    op.create_table(
        "registry_departments",
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("registered_height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("department_id"),
    )
    op.create_table(
        "registry_documents",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("registry_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_documents_sha256"), ["sha256"], unique=False)

    op.create_table(
        "registry_erasures",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.create_table(
        "registry_land_transactions",
        sa.Column("transfer_id", sa.String(length=64), nullable=False),
        sa.Column("parcel_id", sa.String(length=64), nullable=False),
        sa.Column("from_owner", sa.String(length=64), nullable=False),
        sa.Column("to_owner", sa.String(length=64), nullable=False),
        sa.Column("consideration", sa.String(length=24), nullable=False),
        sa.Column("contract_sha256", sa.String(length=64), nullable=True),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id"),
    )
    with op.batch_alter_table("registry_land_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_land_transactions_parcel_id"), ["parcel_id"], unique=False)

    op.create_table(
        "registry_licenses",
        sa.Column("license_id", sa.String(length=64), nullable=False),
        sa.Column("business_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.String(length=10), nullable=False),
        sa.Column("valid_until", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revocation_reason", sa.String(length=300), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("license_id"),
    )
    with op.batch_alter_table("registry_licenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_licenses_business_id"), ["business_id"], unique=False)

    op.create_table(
        "registry_parcels",
        sa.Column("parcel_id", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("area_m2", sa.String(length=24), nullable=False),
        sa.Column("land_use", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("owner_details", sa.Text(), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("parcel_id"),
    )
    with op.batch_alter_table("registry_parcels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registry_parcels_owner"), ["owner"], unique=False)

    op.create_table(
        "registry_void_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("registry_void_events")
    with op.batch_alter_table("registry_parcels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_parcels_owner"))

    op.drop_table("registry_parcels")
    with op.batch_alter_table("registry_licenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_licenses_business_id"))

    op.drop_table("registry_licenses")
    with op.batch_alter_table("registry_land_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_land_transactions_parcel_id"))

    op.drop_table("registry_land_transactions")
    op.drop_table("registry_erasures")
    with op.batch_alter_table("registry_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_documents_sha256"))

    op.drop_table("registry_documents")
    op.drop_table("registry_departments")
    op.drop_table("registry_datasets")
    with op.batch_alter_table("registry_businesses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_businesses_owner"))
        batch_op.drop_index(batch_op.f("ix_registry_businesses_name"))

    op.drop_table("registry_businesses")
    with op.batch_alter_table("registry_access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_access_log_subject"))

    op.drop_table("registry_access_log")
