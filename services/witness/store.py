"""The witness's durable state: per log, the latest cosigned tree head (a
:class:`~govchain.transparency.witness.WitnessState`).

A cosignature is a promise about every later one, so the head it vouches for must be on disk
before the answer leaves: SQLite with ``synchronous=FULL`` (each commit fsynced), in WAL mode,
with the engine's BEGIN IMMEDIATE (govchain.storage.engine). ``advance`` is a compare-and-swap
(``UPDATE ... WHERE size = expected AND root = expected``), so of two requests racing from the
same head only one moves it; without that a slower, smaller request could roll the head back
(the race tlog-witness.md spells out). The database file is 0600 in a 0700 folder.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from govchain.logs import get_logger
from govchain.privatefiles import private_folder
from govchain.storage.engine import make_engine
from govchain.storage.migrations import upgrade_to_head
from govchain.transparency.witness import TreeHead, WitnessedCheckpoint

MIGRATIONS = Path(__file__).with_name("migrations")
log = get_logger("govchain.witness")

metadata = MetaData()

logs = Table(
    "witness_logs",
    metadata,
    Column("origin", Text, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("checkpoint", LargeBinary, nullable=False),
)

refusals = Table(
    "witness_refusals",
    metadata,
    Column("body_sha256", String(64), primary_key=True),
    Column("origin", Text, nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("checkpoint", LargeBinary, nullable=False),
    Column("first_seen", BigInteger, nullable=False),
)


class WitnessStore:
    """Latest cosigned checkpoint per origin, and the inconsistent ones the witness refused."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        upgrade_to_head(engine, MIGRATIONS)

    @classmethod
    def open(cls, path: Path) -> WitnessStore:
        """The SQLite store at ``path``, created 0600 (in a 0700 folder) before SQLite opens it;
        SQLite gives its -wal and -shm files the database file's mode."""
        private_folder(path.parent)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        return cls(make_engine(f"sqlite:///{path}", synchronous="FULL"))

    def close(self) -> None:
        self.engine.dispose()

    def latest(self, origin: str) -> WitnessedCheckpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(logs).where(logs.c.origin == origin)).one_or_none()
        if row is None:
            return None
        head = TreeHead(row.size, bytes(row.root))
        return WitnessedCheckpoint(row.origin, head, row.timestamp, bytes(row.checkpoint))

    def advance(self, expected: TreeHead | None, new: WitnessedCheckpoint) -> bool:
        """Compare-and-swap the origin's head from ``expected`` to ``new.head``, durably."""
        values = {
            "size": new.head.size,
            "root": new.head.root,
            "timestamp": new.timestamp,
            "checkpoint": new.note,
        }
        try:
            with self.engine.begin() as conn:
                if expected is None:
                    if conn.execute(select(logs.c.origin).where(logs.c.origin == new.origin)).first():
                        return False
                    conn.execute(insert(logs).values(origin=new.origin, **values))
                    return True
                moved = conn.execute(
                    update(logs)
                    .where(logs.c.origin == new.origin, logs.c.size == expected.size, logs.c.root == expected.root)
                    .values(**values)
                )
                return moved.rowcount == 1
        except IntegrityError:  # another writer inserted the first row (a server without a write lock)
            return False

    def record_refusal(self, origin: str, note: bytes, reason: str) -> None:
        """Keep the first copy of each refused checkpoint (its body's hash is the key, so the
        table grows only with checkpoints the log really signed). Best effort: failing to keep
        evidence must not change the answer."""
        digest = hashlib.sha256(note[: note.rfind(b"\n\n") + 1]).hexdigest()  # the checkpoint body
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(refusals.c.body_sha256).where(refusals.c.body_sha256 == digest)).first():
                    return
                conn.execute(
                    insert(refusals).values(
                        body_sha256=digest, origin=origin, reason=reason, checkpoint=note, first_seen=int(time.time())
                    )
                )
        except SQLAlchemyError as exc:
            log.warning("could not record a refused checkpoint", origin=origin, error=str(exc))
        else:
            log.warning("refused an inconsistent checkpoint signed by the log", origin=origin, reason=reason)

    def refused(self, origin: str) -> list[tuple[str, bytes]]:
        """(reason, checkpoint note) of every inconsistent checkpoint kept for ``origin``."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(refusals.c.reason, refusals.c.checkpoint)
                .where(refusals.c.origin == origin)
                .order_by(refusals.c.first_seen)
            )
            return [(row.reason, bytes(row.checkpoint)) for row in rows]
