"""The analytics store's tables. Their schema is owned by the alembic migrations beside them.

Rows carry the block height they rest on, so a reader can take a consistent snapshot at
one height by filtering, whatever the database's isolation level.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table

metadata = MetaData()

PRINCIPAL = String(64)
TIME = String(40)  # RFC 3339 UTC, as in block headers

cases = Table(
    "analytics_cases",
    metadata,
    Column("service_type", String(64), primary_key=True),
    Column("case_id", String(128), primary_key=True),
    Column("department", PRINCIPAL, comment="NULL when the chain does not say"),
    Column("opened_at", TIME, nullable=False, comment="block time of the opening event"),
    Column("opened_height", Integer, nullable=False),
    Column("opened_event_id", String(64), nullable=False),
    Column("decided_at", TIME, comment="block time of the decision; NULL while open"),
    Column("decided_height", Integer),
    Column("decided_event_id", String(64)),
    Column("outcome", String(16), comment="approved, rejected or expired"),
    Column("reason", String(500), comment="why, when the decision says (e.g. the failed condition)"),
    Column("applicant", PRINCIPAL, comment="whom the case is for (a pseudonym); the only one who may rate it"),
    Index("ix_analytics_cases_opened_height", "opened_height"),
)

businesses = Table(
    "analytics_businesses",
    metadata,
    Column("business_id", String(64), primary_key=True),
    Column("department", PRINCIPAL, nullable=False, comment="the department that registered it"),
    Column("height", Integer, nullable=False),
)

block_events = Table(
    "analytics_block_events",
    metadata,
    Column("height", Integer, primary_key=True),
    Column("source", PRINCIPAL, primary_key=True),
    Column("hour", TIME, nullable=False, comment="start of the block-time hour"),
    Column("events", Integer, nullable=False),
    Index("ix_analytics_block_events_hour", "hour"),
)

head = Table(
    "analytics_head",
    metadata,
    Column("id", Integer, primary_key=True, comment="always 1"),
    Column("height", Integer, nullable=False),
    Column("time", TIME, nullable=False),
)

refusals = Table(
    "analytics_refusals",
    metadata,
    Column("stream_seq", BigInteger, primary_key=True, autoincrement=False, comment="sequence in stream REJECTED"),
    Column("event_id", String(128), nullable=False),
    Column("department", PRINCIPAL, nullable=False),
    Column("reason", String(64), nullable=False),
    Column("rejected_at", TIME, comment="the orderer's clock (refusals have no block time)"),
)

ratings = Table(
    "analytics_ratings",
    metadata,
    Column("event_id", String(128), primary_key=True, comment="the case.rated event, source/id"),
    Column("service_type", String(64), nullable=False),
    Column("case_id", String(128), nullable=False),
    Column("department", PRINCIPAL, comment="the rated case's department; NULL when unknown"),
    Column("score", Integer, nullable=False),
    Column("has_comment", Boolean, nullable=False),
    Column("rated_at", TIME, nullable=False, comment="block time of the rating"),
    Column("height", Integer, nullable=False),
    Column("void_reason", String(300), comment="why the rating does not count; NULL when it counts"),
    Index("ix_analytics_ratings_case", "service_type", "case_id"),
)
"""Ratings of service cases. No rater column: a counted rating is the applicant's by rule,
and a void one needs no name to show why it was refused."""
