"""The off-chain key vault: one data key per subject, and crypto-shredding by erasing it.

Every personal field on chain is sealed under its subject's data key (see
:mod:`govchain.privacy.fields`). The chain is append-only and replicated, so personal data
cannot be deleted from it; erasing the key instead makes every ciphertext of that subject
unreadable, on every node and in every copy of the chain, while the chain still verifies.

What crypto-shredding guarantees: once :meth:`KeyVault.erase` has committed, this vault
never again returns the subject's key, never creates a new one for that subject, and the
key is gone from the live table. What it does not guarantee:

* Copies of the key outside the live table survive until they age out: database backups
  and replicas, PostgreSQL's WAL and its archive and the dead row version (until VACUUM),
  SQLite's main file until the next WAL checkpoint (free pages are zeroed, see
  :meth:`KeyVault.erase`). The operator's backup and WAL retention policy must bound how
  long an erased key can be recovered from them; erasure is complete only after that.
* Clear values someone already decrypted (projections, caches, exports, memory) are not
  reached by erasing a key; they must be deleted on their own.
* A key held by a process that read it just before the erasure may still be used by that
  process to seal or open; no key is cached here, so it is never used again afterwards.

Data keys are secrets: they appear in no repr, exception or log message of this module.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from govchain.privacy.fields import KEY_BYTES, SealedField, check_subject, open_sealed, seal
from govchain.protocol.errors import GovChainError
from govchain.storage.migrations import upgrade_to_head

KEY_VERSION = 1
"""The version of every key this vault creates; a subject has one key, never rotated yet."""
NO_KEY_VERSION = 0
"""Key version of a tombstone: a subject erased before any key was made for them."""

MIGRATIONS = Path(__file__).with_name("migrations")
"""The vault table's alembic scripts (version table ``alembic_version_privacy``)."""

vault_metadata = MetaData()

subject_keys = Table(
    "privacy_subject_keys",
    vault_metadata,
    Column("subject", String(64), primary_key=True),
    Column("key_version", Integer, nullable=False),
    Column("data_key", LargeBinary, nullable=True, comment="NULL once erased"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("erasure_reason", Text, nullable=True),
)


class KeyVaultError(GovChainError):
    """The vault's database refused a write; the message names no key material."""


class SubjectErased(GovChainError):
    """The subject's data key was erased: their sealed data is unreadable, and stays so."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"the data key of subject {subject} was erased")
        self.subject = subject


class UnknownSubjectKey(GovChainError):
    """The vault holds no key of that version for the subject."""

    def __init__(self, subject: str, key_version: int) -> None:
        super().__init__(f"no data key version {key_version} for subject {subject}")
        self.subject = subject
        self.key_version = key_version


class KeyVault:
    """Data keys of subjects, in a SQL database apart from the chain.

    Safe to share between processes on one database: the first key created for a subject
    wins and every process then uses it. An erased subject keeps its row, with the key
    set to NULL, as a tombstone: the primary key then stops any key from being created
    for them again.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Migrated like every other table; a vault made by the old create_all is kept (0001).
        upgrade_to_head(engine, MIGRATIONS)

    def key_for_sealing(self, subject: str) -> tuple[bytes, int]:
        """The subject's data key and its version, created on first use.

        Raises :class:`SubjectErased` for an erased subject: new personal data of a person
        who asked to be forgotten must not be sealed under a fresh key.
        """
        check_subject(subject)
        row = self._row(subject)
        if row is None:
            self._create_key(subject)
            row = self._row(subject)
            assert row is not None, "rows are never deleted"
        if row.erased_at is not None:
            raise SubjectErased(subject)
        return bytes(row.data_key), row.key_version

    def key_for_opening(self, subject: str, key_version: int) -> bytes:
        """The key a field of ``subject`` was sealed with; never creates one.

        Raises :class:`SubjectErased` if it was erased, :class:`UnknownSubjectKey` if this
        vault never had it.
        """
        row = self._row(subject)
        if row is not None and row.erased_at is not None:
            raise SubjectErased(subject)
        if row is None or row.key_version != key_version:
            raise UnknownSubjectKey(subject, key_version)
        return bytes(row.data_key)

    def erase_within(self, conn: Connection, subject: str, reason: str) -> bool:
        """Crypto-shred inside the caller's transaction (a projection erasing as it applies
        the on-chain erasure, so the record of it and the shredding commit together)."""
        check_subject(subject)
        now = datetime.now(UTC)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
        destroyed = conn.execute(
            update(subject_keys)
            .where(subject_keys.c.subject == subject, subject_keys.c.erased_at.is_(None))
            .values(data_key=None, erased_at=now, erasure_reason=reason)
        ).rowcount
        if not destroyed and conn.execute(
            select(subject_keys.c.subject).where(subject_keys.c.subject == subject)
        ).first() is None:
            conn.execute(insert(subject_keys).values(
                subject=subject, key_version=NO_KEY_VERSION, data_key=None,
                created_at=now, erased_at=now, erasure_reason=reason,
            ))
        return bool(destroyed)

    def erase(self, subject: str, reason: str) -> bool:
        """Crypto-shred a subject: overwrite their key with NULL and record when and why.

        Idempotent: erasing again changes nothing and keeps the first time and reason.
        Erasing a subject that has no key yet leaves a tombstone, so that none is ever
        created for them. Returns whether a key was destroyed by this call. See the module
        docstring for what erasure does not reach (backups, WAL, decrypted copies).
        """
        if not reason.strip():
            raise ValueError("an erasure needs a reason")
        while True:
            try:
                with self._engine.begin() as conn:
                    return self.erase_within(conn, subject, reason)
            except IntegrityError:
                continue  # a key appeared between our update and our tombstone: go round and destroy it

    def is_erased(self, subject: str) -> bool:
        row = self._row(subject)
        return row is not None and row.erased_at is not None

    def seal_for(self, subject: str, value: Any, context: str) -> SealedField:
        """Seal a JSON value under the subject's key (created on first use); see :func:`seal`."""
        key, key_version = self.key_for_sealing(subject)
        return seal(value, subject=subject, key=key, key_version=key_version, context=context)

    def open_for(self, field: SealedField, context: str) -> Any:
        """Open a sealed field with its subject's key; raises :class:`SubjectErased` once erased."""
        key = self.key_for_opening(field.subject, field.key_version)
        return open_sealed(field, key=key, context=context)

    def _row(self, subject: str) -> Row[Any] | None:
        with self._engine.connect() as conn:
            return conn.execute(select(subject_keys).where(subject_keys.c.subject == subject)).one_or_none()

    def _create_key(self, subject: str) -> None:
        """Insert a fresh key; if another writer got there first (key or tombstone), theirs stands."""
        self._insert(
            subject=subject, key_version=KEY_VERSION, data_key=secrets.token_bytes(KEY_BYTES),
            created_at=datetime.now(UTC), erased_at=None, erasure_reason=None,
        )

    def _insert(self, **values: Any) -> bool:
        """Insert a row in its own transaction; False if the subject already has one."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(subject_keys).values(**values))
        except IntegrityError:
            return False
        except DBAPIError as exc:
            # SQLAlchemy's message carries the statement's parameters, here a data key: drop it.
            raise KeyVaultError(f"cannot write the key row: {type(exc.orig).__name__}") from None
        return True
