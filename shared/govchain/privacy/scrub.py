"""Leaving no old copy of a deleted value in the database's own files.

SQLite keeps a deleted value in three places unless told otherwise: the free space of its
page (``PRAGMA secure_delete=ON`` overwrites it with zeros, per connection), older versions
of that page in the write-ahead log, and the main file until a checkpoint copies the new
page over it (``PRAGMA wal_checkpoint(TRUNCATE)`` does both: copies every page back and
empties the -wal file). PostgreSQL keeps the dead row version until VACUUM, plus its WAL,
archive and replicas; of those only the table can be rewritten from here
(``VACUUM FULL``), which is why the vault never stores a data key unwrapped.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError

from govchain.logs import get_logger

log = get_logger("govchain.privacy")

CHECKPOINT_ATTEMPTS = 2
"""Each attempt already waits up to busy_timeout (10 s) for readers; a second catches a late one."""


def secure_deletes(engine: Engine) -> None:
    """Every connection the engine hands out zeroes deleted content and fsyncs each commit.

    Set at checkout rather than connect so connections pooled before the vault opened get it
    too. ``synchronous=FULL``: a KEK rotation destroys the old KEK only after its commit, which
    therefore must survive a power cut (in WAL mode NORMAL may lose the last commits)."""
    if engine.dialect.name == "sqlite" and not event.contains(engine, "checkout", _on_checkout):
        event.listen(engine, "checkout", _on_checkout)


def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA synchronous = FULL")
    finally:
        cursor.close()


def secure_delete_within(conn: Connection) -> None:
    """Turn secure_delete on for a connection the vault did not open (a projection's)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


def truncate_wal(engine: Engine) -> bool:
    """SQLite: copy every page of the WAL into the main file and truncate the WAL to zero
    bytes; True when done (or nothing to do: PostgreSQL, no WAL). Must run outside any
    transaction, so after the erasing one has committed; it waits (busy_timeout) for
    readers of older snapshots and retries a few times before giving up with a warning."""
    if engine.dialect.name != "sqlite":
        return True
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            for attempt in range(CHECKPOINT_ATTEMPTS):
                busy, _frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return True
                time.sleep(0.05 * (attempt + 1))
        finally:
            cursor.close()
    finally:
        raw.close()
    log.warning("WAL checkpoint blocked by readers; erased key pages stay in the WAL until the next one")
    return False


def vacuum_full(engine: Engine, table: str) -> None:
    """PostgreSQL: rewrite ``table`` into a new file, so dead row versions leave the live table."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'VACUUM FULL "{table}"')
    except DBAPIError as exc:  # not the table's owner, say: the rows are right, only old versions linger
        log.warning(
            "cannot VACUUM FULL: old row versions may linger in the table file",
            table=table,
            error=type(exc.orig).__name__,
        )


def sqlite_files(engine: Engine) -> list[Path]:
    """The SQLite database file and its companions (-wal, -shm, -journal) that exist now."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return []
    main = Path(engine.url.database)
    candidates = [main, *(main.with_name(main.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
    return [path for path in candidates if path.exists()]


def make_sqlite_files_private(engine: Engine) -> None:
    """0600 on the database and its companions (SQLite gives new -wal/-shm the main file's mode)."""
    for path in sqlite_files(engine):
        try:
            os.chmod(path, 0o600)
        except PermissionError:
            log.warning("cannot make a database file private (not its owner)", path=str(path))
