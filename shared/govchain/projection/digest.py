"""A digest of a projection's tables, to tell whether two stores hold the same read model.

A projection is a function of the chain: replayed into an empty database up to the same
height, it must give the same rows as the store a running service built, whatever crashes
and restarts that service went through. Comparing whole databases row by row is slow to
report and awkward to keep; a digest per table (and one over all of them) says at once
whether they match and, if not, which table differs.

The digest covers every table the database holds (found by SQLAlchemy reflection, so a
table added by a later migration is covered without touching this module): its name, its
column names and its rows, each row encoded as canonical JSON and the rows sorted, so the
order rows were written in, or the order a query returns them in, does not matter.

What is left out, because it legitimately differs between a live store and a replay of
the same chain (checked against the tables of the ledger, identity, registry, contract and
analytics stores as of their newest migrations):

* ``alembic_version*`` tables: schema bookkeeping, not data. A store migrated step by
  step and one created at the newest revision hold the same data.
* ``privacy_subject_keys`` (the registry's key vault): per-person data keys are random
  secrets kept *off* chain, with wall-clock ``created_at`` / ``erased_at``; by design a
  replay cannot recreate them (only the erasures, kept in ``registry_erasures``).
* ``contract_outbox.published``: whether the engine has already sent a result to the
  ledger is delivery state of this process, not a function of the chain (a replay starts
  with every result unsent). The result itself (id, type, data, time) stays covered.

Everything else is covered, including the checkpoint table (``govchain_checkpoints``:
height, block hash, log frontier, chain state), so two stores match only at equal heights.
Columns that name a time in these stores hold block times or times carried by the chain
(``analytics_refusals.rejected_at`` is the orderer's clock as recorded on stream REJECTED),
never the clock of the process that wrote the row, so they stay in. Surrogate integer keys
(``contract_case_history.id``) stay in as well: on SQLite a rolled-back transaction hands
out no ids, so a store that crashed and a replay number their rows alike; on PostgreSQL,
whose sequences skip values a rolled-back transaction took, pass that column in
``exclude_columns`` to compare.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, select

EXCLUDED_TABLE_PREFIXES: tuple[str, ...] = ("alembic_version",)
"""Tables left out by name prefix: alembic's version tables, one per migration folder."""

EXCLUDED_TABLES: frozenset[str] = frozenset({"privacy_subject_keys"})
"""Tables left out whole: the off-chain key vault (see the module docstring)."""

EXCLUDED_COLUMNS: Mapping[str, frozenset[str]] = {"contract_outbox": frozenset({"published"})}
"""Columns left out, by table: delivery state that is not a function of the chain."""


def _encode(value: Any) -> Any:
    """A JSON value for one cell, typed so that distinct values never encode alike."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"float": value.hex()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return {"time": value.isoformat()}
    raise TypeError(f"cannot digest a value of type {type(value).__name__}")


def _row_bytes(row: Iterable[Any]) -> bytes:
    return json.dumps([_encode(v) for v in row], ensure_ascii=False, separators=(",", ":")).encode()


def _excluded(table: str, exclude_tables: Iterable[str], exclude_prefixes: Iterable[str]) -> bool:
    return table in set(exclude_tables) or any(table.startswith(p) for p in exclude_prefixes)


def table_digests(
    bind: Connection | Engine,
    *,
    exclude_tables: Iterable[str] = EXCLUDED_TABLES,
    exclude_prefixes: Iterable[str] = EXCLUDED_TABLE_PREFIXES,
    exclude_columns: Mapping[str, Iterable[str]] = EXCLUDED_COLUMNS,
) -> dict[str, str]:
    """SHA-256 (hex) of each table of the database, by table name, left-outs aside.

    Pass a :class:`~sqlalchemy.Connection` inside a transaction to digest one snapshot of a
    database that is being written; with an :class:`~sqlalchemy.Engine`, each table is read
    on its own. Nothing is written."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return table_digests(
                conn,
                exclude_tables=exclude_tables,
                exclude_prefixes=exclude_prefixes,
                exclude_columns=exclude_columns,
            )
    exclude_tables, exclude_prefixes = frozenset(exclude_tables), tuple(exclude_prefixes)
    metadata = MetaData()
    metadata.reflect(bind)
    digests: dict[str, str] = {}
    for name in sorted(metadata.tables):
        if _excluded(name, exclude_tables, exclude_prefixes):
            continue
        table = metadata.tables[name]
        left_out = set(exclude_columns.get(name, ()))
        columns = sorted(c.name for c in table.columns if c.name not in left_out)
        rows = sorted(_row_bytes(row) for row in bind.execute(select(*(table.c[c] for c in columns))))
        h = hashlib.sha256()
        h.update(_row_bytes([name, *columns]) + b"\n")
        for row in rows:
            h.update(row + b"\n")
        digests[name] = h.hexdigest()
    return digests


def projection_digest(
    bind: Connection | Engine,
    *,
    exclude_tables: Iterable[str] = EXCLUDED_TABLES,
    exclude_prefixes: Iterable[str] = EXCLUDED_TABLE_PREFIXES,
    exclude_columns: Mapping[str, Iterable[str]] = EXCLUDED_COLUMNS,
) -> str:
    """One SHA-256 (hex) over every table's digest (see :func:`table_digests`): equal for two
    databases exactly when every covered table holds the same rows."""
    digests = table_digests(
        bind, exclude_tables=exclude_tables, exclude_prefixes=exclude_prefixes, exclude_columns=exclude_columns
    )
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
