"""SQLAlchemy engines for projections: SQLite by default, PostgreSQL by URL.

On SQLite the engine, not the sqlite3 driver, opens transactions. The driver's legacy
transaction control emits BEGIN only before INSERT/UPDATE/DELETE, so a SAVEPOINT issued
before any write starts a transaction of its own, and releasing it commits: a projection's
per-event savepoint then committed rows outside the block's transaction, without the
checkpoint (DESIGN.md, the pysqlite lesson). SQLAlchemy's documented recipe ("Transactions
with SQLite and the sqlite3 driver") turns the driver's BEGIN off and emits BEGIN from the
engine's ``begin`` event, so every statement, savepoint and ``executemany`` of a
transaction is inside one BEGIN ... COMMIT.
"""

from __future__ import annotations

import weakref
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event

SQLiteSynchronous = Literal["FULL", "NORMAL"]
"""``FULL``: a commit is fsynced before it returns, so an acknowledged write survives a power
loss. ``NORMAL`` in WAL mode fsyncs only at checkpoints: the last commits can be lost."""

_reading: weakref.WeakSet[Connection] = weakref.WeakSet()
"""Connections about to begin implicitly, for a statement run outside ``begin()``."""


def make_engine(url: str, *, synchronous: SQLiteSynchronous = "FULL") -> Engine:
    """An engine tuned for projection writes: SQLite in WAL mode, PostgreSQL via psycopg 3.

    ``synchronous`` applies to SQLite only (PostgreSQL fsyncs each commit by default)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        _own_sqlite_transactions(engine, synchronous)
    return engine


def _own_sqlite_transactions(engine: Engine, synchronous: SQLiteSynchronous) -> None:
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"SQLite synchronous must be FULL or NORMAL, not {synchronous!r}")

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver never emits BEGIN: _begin does
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "before_execute", _note_implicit_begin)
    event.listen(engine, "begin", _begin)


def _note_implicit_begin(conn: Connection, *_args: Any) -> None:
    """A statement outside ``begin()`` is about to start a transaction (SQLAlchemy's autobegin).
    ``exec_driver_sql`` fires no ``before_execute``: it begins as a writer would, which is safe."""
    if not conn.in_transaction():
        _reading.add(conn)


def _begin(conn: Connection) -> None:
    """Open the transaction SQLAlchemy starts (sqlite3 still sends COMMIT and ROLLBACK).

    ``begin()`` (a writer's ``engine.begin()``) takes the write lock at once, waiting out
    other writers under busy_timeout: a deferred transaction that read first could not be
    upgraded once another connection had committed ("database is locked" at once). A read
    on ``engine.connect()`` begins deferred, so readers never hold writers up."""
    implicit = conn in _reading
    _reading.discard(conn)
    conn.exec_driver_sql("BEGIN" if implicit else "BEGIN IMMEDIATE")
