"""The contract engine's tables (its schema is owned by the alembic migrations beside them)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

metadata = MetaData()

definitions = Table(
    "contract_definitions",
    metadata,
    Column("contract_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", Text, nullable=False),
    Column("deployed_height", Integer, nullable=False),
    Column("event_id", String(64), nullable=False),
)

cases = Table(
    "contract_cases",
    metadata,
    Column("contract_id", String(64), primary_key=True),
    Column("case_key", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("state", String(64), nullable=False, index=True),
    Column("vars", Text, nullable=False),
    Column("entered_at", String(40), nullable=False),
    Column("updated_height", Integer, nullable=False),
)

history = Table(
    "contract_case_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contract_id", String(64), nullable=False),
    Column("case_key", String(128), nullable=False, index=True),
    Column("height", Integer, nullable=False),
    Column("step", String(80), nullable=False),
    Column("state", String(64), nullable=False),
    Column("failed", Text),
    Column("trigger_event_id", String(128), comment="source/id of the triggering event (bare id before 0002)"),
)

outbox = Table(
    "contract_outbox",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("type", String(128), nullable=False),
    Column("data", Text, nullable=False),
    Column("time", String(40), nullable=False),
    Column("contract_id", String(64), nullable=False),
    Column("case_key", String(128), nullable=False),
    Column("height", Integer, nullable=False, index=True),
    Column("published", Integer, nullable=False, default=0),
)
