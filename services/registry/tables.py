"""The registry's tables. Their schema is owned by the alembic migrations beside them."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

metadata = MetaData()

EVENT_ID = String(128)
"""An event's reference, ``source/id`` (govchain.protocol.eventref): ids are unique per source
only. Rows written before migration 0003 hold a bare id, which was unique chain-wide then."""
PRINCIPAL = String(64)
RECORD_ID = String(64)

businesses = Table(
    "registry_businesses",
    metadata,
    Column("business_id", RECORD_ID, primary_key=True),
    Column("name", String(200), nullable=False, index=True),
    Column("registration_no", String(64), nullable=False),
    Column("address", String(300), nullable=False),
    Column("activity", String(200), nullable=False),
    Column("owner", PRINCIPAL, nullable=False, index=True),
    Column("owner_details", Text, comment="sealed JSON (AES-GCM under the owner's data key) or NULL"),
    Column("department", PRINCIPAL, nullable=False),
    Column("height", Integer, nullable=False),
    Column("event_ids", Text, nullable=False, comment="JSON list of the events the row rests on"),
)

licenses = Table(
    "registry_licenses",
    metadata,
    Column("license_id", RECORD_ID, primary_key=True),
    Column("business_id", RECORD_ID, nullable=False, index=True),
    Column("kind", String(100), nullable=False),
    Column("valid_from", String(10), nullable=False),
    Column("valid_until", String(10), nullable=False),
    Column("status", String(16), nullable=False),
    Column("revocation_reason", String(300)),
    Column("department", PRINCIPAL, nullable=False),
    Column("height", Integer, nullable=False),
    Column("event_ids", Text, nullable=False),
)

parcels = Table(
    "registry_parcels",
    metadata,
    Column("parcel_id", RECORD_ID, primary_key=True),
    Column("location", String(300), nullable=False),
    Column("area_m2", String(24), nullable=False),
    Column("land_use", String(100), nullable=False),
    Column("owner", PRINCIPAL, nullable=False, index=True),
    Column("owner_details", Text),
    Column("department", PRINCIPAL, nullable=False),
    Column("height", Integer, nullable=False),
    Column("event_ids", Text, nullable=False),
)

land_transactions = Table(
    "registry_land_transactions",
    metadata,
    Column("transfer_id", RECORD_ID, primary_key=True),
    Column("parcel_id", RECORD_ID, nullable=False, index=True),
    Column("from_owner", PRINCIPAL, nullable=False),
    Column("to_owner", PRINCIPAL, nullable=False),
    Column("consideration", String(24), nullable=False),
    Column("contract_sha256", String(64)),
    Column("height", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("event_id", EVENT_ID, nullable=False),
)

documents = Table(
    "registry_documents",
    metadata,
    Column("event_id", EVENT_ID, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("document_id", String(128), nullable=False),
    Column("title", String(300), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("department", PRINCIPAL, nullable=False),
    Column("height", Integer, nullable=False),
)

datasets = Table(
    "registry_datasets",
    metadata,
    Column("dataset_id", RECORD_ID, primary_key=True),
    Column("department", PRINCIPAL, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Column("access", String(16), nullable=False),
    Column("readers", Text, nullable=False),
    Column("height", Integer, nullable=False),
    Column("event_ids", Text, nullable=False),
    Column("source", String(16), comment="the register its records are read from under a grant; NULL: not readable"),
    Column("approvers", Text, comment="JSON list: whose approval a grant needs; NULL or []: the department alone"),
    Column("required", Integer, comment="how many of approvers must approve; NULL: 1"),
)

departments = Table(
    "registry_departments",
    metadata,
    Column("department_id", PRINCIPAL, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("registered_height", Integer, nullable=False),
    Column("event_id", EVENT_ID, comment="the department.registered event; NULL in rows from before 0002"),
)

access_log = Table(
    "registry_access_log",
    metadata,
    Column("event_id", EVENT_ID, primary_key=True),
    Column("subject", PRINCIPAL, nullable=False, index=True),
    Column("reader", PRINCIPAL, nullable=False),
    Column("reader_department", PRINCIPAL),
    Column("purpose", String(300), nullable=False),
    Column("record", String(200), nullable=False),
    Column("fields", Text, nullable=False),
    Column("time", String(40), nullable=False),
    Column("height", Integer, nullable=False),
)

erasures = Table(
    "registry_erasures",
    metadata,
    Column("subject", PRINCIPAL, primary_key=True),
    Column("reason", String(300), nullable=False),
    Column("height", Integer, nullable=False),
    Column("event_id", EVENT_ID, nullable=False),
)

void_events = Table(
    "registry_void_events",
    metadata,
    Column("event_id", EVENT_ID, primary_key=True),
    Column("type", String(128), nullable=False),
    Column("reason", String(300), nullable=False),
    Column("height", Integer, nullable=False),
)

data_grants = Table(
    "registry_data_grants",
    metadata,
    Column("request_id", RECORD_ID, primary_key=True),
    Column("dataset_id", RECORD_ID, nullable=False, index=True),
    Column("holder", PRINCIPAL, nullable=False),
    Column("grantee", PRINCIPAL, nullable=False, index=True),
    Column("purpose", String(300), nullable=False),
    Column("fields", Text, nullable=False, comment="JSON list of the granted fields"),
    Column("approvals", Text, nullable=False, comment="JSON list of the departments that approved"),
    Column("expires_on", String(10), nullable=False, comment="last day (UTC block time) reads are allowed"),
    Column("status", String(16), nullable=False, comment="granted, or void (see void_reason)"),
    Column("void_reason", String(300)),
    Column("height", Integer, nullable=False),
    Column("event_id", EVENT_ID, nullable=False),
)
"""Grants of the data-sharing contract; a grant the registry finds inconsistent is kept as void."""

dataset_reads = Table(
    "registry_dataset_reads",
    metadata,
    Column("event_id", EVENT_ID, primary_key=True),
    Column("request_id", RECORD_ID, nullable=False, index=True),
    Column("dataset_id", RECORD_ID, nullable=False),
    Column("reader", PRINCIPAL, nullable=False),
    Column("reader_department", PRINCIPAL),
    Column("fields", Text, nullable=False),
    Column("records", Integer, nullable=False),
    Column("time", String(40), nullable=False),
    Column("height", Integer, nullable=False),
)

dataset_read_subjects = Table(
    "registry_dataset_read_subjects",
    metadata,
    Column("event_id", EVENT_ID, primary_key=True),
    Column("subject", PRINCIPAL, primary_key=True, index=True),
)
"""Whose personal data each read under a grant held: what their access logs list."""
